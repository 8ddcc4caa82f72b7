"""CREATE INDEX without CONCURRENTLY blocks writes for the whole build.

## Problem

A plain `CREATE INDEX` holds a SHARE lock on the table until the index is
built: every `INSERT`, `UPDATE` and `DELETE` waits, for minutes on a large
table.

## Why

SHARE conflicts with the ROW EXCLUSIVE lock that every write takes. Reads go
on, writes queue up, and the connection pool of the app soon runs dry.

## Safe alternative

Use `create_index`: zdmigrate builds it with `CREATE INDEX CONCURRENTLY`
(SHARE UPDATE EXCLUSIVE, writes go on) outside a transaction, and rebuilds an
index that a failed build left INVALID.

```yaml
- create_index:
    name: orders_customer_id_idx
    table: orders
    columns: [customer_id]
```

Indexes on tables created earlier in the same migration are not reported: no one
else uses those tables yet. A partitioned parent cannot be indexed
concurrently; build the index on each partition concurrently, create the
parent's index `ON ONLY` and attach each partition's index.
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, define
from zdmigrate.lint.source import Statement

_HELP = (
    "use the zdmigrate operation create_index, which builds it CONCURRENTLY "
    "(or write CREATE INDEX CONCURRENTLY outside a transaction)"
)
_PARTITIONED_HELP = (
    "build the index CONCURRENTLY on each partition, then CREATE INDEX ON ONLY the parent "
    "and ALTER INDEX ... ATTACH PARTITION each one"
)


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if node.concurrent or ctx.is_new(node.relation):
        return
    facts = ctx.table(node.relation)
    partitioned = facts is not None and facts.partitioned
    yield ctx.on_table(
        node.relation,
        f"CREATE INDEX on {rel_key(node.relation)} without CONCURRENTLY blocks writes "
        "(SHARE lock) until the index is built",
        _PARTITIONED_HELP if partitioned else _HELP,
    )


RULE = define(
    __doc__,
    code="ZD201",
    name="create-index-not-concurrently",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("IndexStmt",),
)
