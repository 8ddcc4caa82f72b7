"""Dropping a constraint, a NOT NULL or a default can break the old version that relies on it.

## Problem

`ALTER TABLE ... DROP CONSTRAINT`, `ALTER COLUMN ... DROP NOT NULL` and
`ALTER COLUMN ... DROP DEFAULT` are quick, but the old version of the app
may depend on what they remove: a unique constraint its `ON CONFLICT`
names, a check or foreign key that kept bad rows out, a NOT NULL its code
assumes when it reads, a default its inserts leave the column to.

## Why

Once the constraint is gone, the new version (or anyone) can write rows the
old version never expected: NULLs it crashes on, duplicates, orphans. Once
the default is gone, the old version's inserts that leave the column out
store NULL, or fail when the column is NOT NULL. Off by default (many
migrations drop constraints on purpose): select it (`select =
["drop-constraint"]` under `[tool.zdmigrate.lint]`, or `--select
drop-constraint`).

## Safe alternative

Drop it once the old version is gone. `drop_constraint` is run by
`zdmigrate complete`, after the gate; `alter_column` with `nullable: true`
or `drop_default: true` gives the new version the change through its
version schema and keeps the table as the old version knows it until
contract:

```yaml
- drop_constraint: {table: orders, name: orders_total_check}
- alter_column: {table: orders, column: note, nullable: true, drop_default: true}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import BREAKING, alter_cmds, define
from zdmigrate.lint.source import Statement


def _message(table: str, cmd: Any) -> tuple[str, str] | None:
    if cmd.subtype == "AT_DropConstraint":
        return (
            f"dropping constraint {cmd.name} on {table}: the old version of the app may rely "
            "on it (ON CONFLICT, or rows it keeps out)",
            "use the zdmigrate operation drop_constraint: it is dropped at contract, once "
            "nothing old is left",
        )
    if cmd.subtype == "AT_DropNotNull":
        return (
            f"dropping NOT NULL on {table}.{cmd.name}: the old version of the app may read "
            "the NULLs that can now be written",
            "use the zdmigrate operation alter_column with nullable: true",
        )
    if cmd.subtype == "AT_ColumnDefault" and cmd.def_ is None:
        return (
            f"dropping the default of {table}.{cmd.name}: the old version's inserts that "
            "leave the column out relied on it",
            "use the zdmigrate operation alter_column with drop_default: true",
        )
    return None


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation):
        return
    table = rel_key(node.relation)
    for cmd in alter_cmds(node, "AT_DropConstraint", "AT_DropNotNull", "AT_ColumnDefault"):
        found = _message(table, cmd)
        if found is not None:
            yield ctx.on_table(node.relation, *found)


RULE = define(
    __doc__,
    code="ZD109",
    name="drop-constraint",
    category=BREAKING,
    severity=Severity.WARNING,
    check=check,
    nodes=(
        "AlterTableStmt:AT_DropConstraint",
        "AlterTableStmt:AT_DropNotNull",
        "AlterTableStmt:AT_ColumnDefault",
    ),
    enabled=False,
)
