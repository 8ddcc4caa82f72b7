"""TRUNCATE ... CASCADE empties every table that references this one, too.

## Problem

`TRUNCATE t CASCADE` also truncates every table with a foreign key to `t`,
and the tables referencing those, recursively: far more data than the
statement names can disappear.

## Why

Each truncated table is locked ACCESS EXCLUSIVE and emptied; the set depends
on foreign keys that may have been added long after the migration was
written.

## Safe alternative

Name every table to empty, without `CASCADE`, so PostgreSQL refuses when one
is missing. Deleting data is a `sql` operation with an explicit list:

```yaml
- sql:
    up: TRUNCATE import_rows, import_batches
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, define
from zdmigrate.lint.source import Statement


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if node.behavior != "DROP_CASCADE":
        return
    names = ", ".join(rel_key(r) for r in node.relations or ())
    yield Violation(
        f"TRUNCATE {names} CASCADE also empties every table that references it, recursively",
        "name each table to truncate and drop CASCADE",
    )


RULE = define(
    __doc__,
    code="ZD216",
    name="truncate-cascade",
    category=LOCKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("TruncateStmt",),
)
