"""Dropping a schema removes every object in it at once.

## Problem

`DROP SCHEMA` (with `CASCADE`, everything inside it) deletes tables, views
and functions that the running version of the app may still use.

## Why

Each dropped table is locked ACCESS EXCLUSIVE and its data is lost. Unlike
a column or a table, there is no way to hide a whole schema from one version
of the app while the other keeps using it.

## Safe alternative

Drop the tables one by one with `drop_table`, so that each waits for the
contract gate, and drop the then empty schema in a later migration.

```yaml
- drop_table:
    table: reporting_snapshots
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import BREAKING, define
from zdmigrate.lint.source import Statement


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if node.removeType != "OBJECT_SCHEMA":
        return
    for name in node.objects or ():
        if ctx.is_new_schema(name.sval):
            continue
        yield Violation(
            f"dropping schema {name.sval} removes every object in it while the running "
            "app may still use them",
            "drop its tables with the zdmigrate operation drop_table first; drop the empty "
            "schema in a later migration",
        )


RULE = define(
    __doc__,
    code="ZD103",
    name="drop-schema",
    category=BREAKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("DropStmt",),
)
