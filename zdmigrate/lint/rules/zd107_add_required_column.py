"""A NOT NULL column without a default breaks the old version's inserts.

## Problem

`ALTER TABLE ... ADD COLUMN c type NOT NULL` with no `DEFAULT` (or with
`DEFAULT NULL`, which is the same) fails on a table that has rows, and on an empty table it makes every `INSERT` of the
old version fail, because the old code does not know the column exists.

## Why

The old version keeps inserting rows without a value for the new column,
and PostgreSQL rejects each of them with a not-null violation.

## Safe alternative

Use `add_column` with `nullable: false` and an `up` expression (or a
`default`). zdmigrate adds the column as nullable, fills it for old writers
with a trigger and for existing rows with a backfill, and makes it NOT NULL
at contract without a long lock.

```yaml
- add_column:
    table: users
    column: {name: locale, type: text, nullable: false}
    up: "'en'"
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._expr import is_node
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import (
    BREAKING,
    added_columns,
    column_constraints,
    define,
    type_name,
)
from zdmigrate.lint.source import Statement

_FILLED = ("CONSTR_DEFAULT", "CONSTR_IDENTITY", "CONSTR_GENERATED")
_SERIALS = frozenset({"serial", "serial4", "serial8", "bigserial", "smallserial", "serial2"})


def _fills(con: Any) -> bool:
    """A default, identity or generation that gives old rows and inserts a value
    (``DEFAULT NULL`` gives none)."""
    if con.contype != "CONSTR_DEFAULT":
        return True
    expr = con.raw_expr
    return not (is_node(expr, "A_Const") and bool(expr.isnull))


def _required(col: Any) -> bool:
    not_null = col.is_not_null or any(column_constraints(col, "CONSTR_NOTNULL"))
    primary = any(column_constraints(col, "CONSTR_PRIMARY"))
    filled = any(_fills(c) for c in column_constraints(col, *_FILLED))
    return (not_null or primary) and not (filled or type_name(col.typeName) in _SERIALS)


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation):
        return
    for col in added_columns(node):
        if _required(col):
            yield ctx.on_table(
                node.relation,
                f"adding NOT NULL column {rel_key(node.relation)}.{col.colname} without a "
                "default makes the old version's inserts fail",
                "use the zdmigrate operation add_column with nullable: false and an up "
                "expression (or a default)",
                offset=col.location,
            )


RULE = define(
    __doc__,
    code="ZD107",
    name="add-required-column",
    category=BREAKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("AlterTableStmt:AT_AddColumn",),
)
