"""Dropping a table breaks the running old version that still queries it.

## Problem

`DROP TABLE` removes the table, its data and everything that depends on it
(with `CASCADE`, views and foreign keys too). Code of the previous release
that is still running fails on its next query of the table.

## Why

`DROP TABLE` takes ACCESS EXCLUSIVE; it queues behind every open transaction
that touched the table, and every later query queues behind it. The data is
gone for good: a rollback of the deploy cannot bring it back.

## Safe alternative

Use the `drop_table` operation. `zdmigrate apply` only hides the table from
the new version; `zdmigrate complete` drops it after the gate has found no
reader left.

```yaml
- drop_table:
    table: audit_2019
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
    if node.removeType != "OBJECT_TABLE":
        return
    for names in node.objects or ():
        key = ".".join(n.sval for n in names)
        if ctx.is_new_key(key):
            continue
        yield ctx.on_table(
            key,
            f"dropping table {key} breaks the old version of "
            "the app that still queries it, and its data cannot be restored by a rollback",
            "use the zdmigrate operation drop_table: the table is dropped by "
            "`zdmigrate complete` once nothing uses it",
        )


RULE = define(
    __doc__,
    code="ZD102",
    name="drop-table",
    category=BREAKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("DropStmt",),
)
