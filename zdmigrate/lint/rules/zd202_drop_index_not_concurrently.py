"""DROP INDEX without CONCURRENTLY blocks reads and writes of the table.

## Problem

A plain `DROP INDEX` takes ACCESS EXCLUSIVE on the index's table. It waits
for every running query on the table, and every query after it waits too.

## Why

The drop itself is quick, but the lock queue is not: one long-running
report in front of it stalls every request that touches the table.

## Safe alternative

Use `drop_index`, which runs `DROP INDEX CONCURRENTLY` outside a transaction
(SHARE UPDATE EXCLUSIVE: reads and writes go on).

```yaml
- drop_index:
    name: orders_created_at_idx
```

Indexes created earlier in the same migration are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, define
from zdmigrate.lint.source import Statement


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if node.removeType != "OBJECT_INDEX" or node.concurrent:
        return
    for names in node.objects or ():
        name = ".".join(n.sval for n in names)
        if ctx.is_new_index(name, names[-1].sval):
            continue
        yield Violation(
            f"DROP INDEX {name} without CONCURRENTLY takes ACCESS EXCLUSIVE on its table",
            "use the zdmigrate operation drop_index (DROP INDEX CONCURRENTLY, outside a "
            "transaction)",
        )


RULE = define(
    __doc__,
    code="ZD202",
    name="drop-index-not-concurrently",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("DropStmt",),
)
