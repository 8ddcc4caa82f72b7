"""What an ``ALTER COLUMN ... TYPE`` does, from the old type the sources or the model give."""

from __future__ import annotations

from typing import Any

from zdmigrate.lint._context import Context
from zdmigrate.lint._expr import column_name, is_node
from zdmigrate.lint._types import (
    ColType,
    TypeChange,
    compare,
    existing_type,
    parse_type,
    type_of,
)
from zdmigrate.lint.source import Statement

__all__ = ["type_change"]


def _plain_using(expr: Any, column: str, new: ColType) -> bool:
    """No USING, or one that is the column itself (cast to the new type or not)."""
    if expr is None:
        return True
    if is_node(expr, "TypeCast"):
        if type_of(expr.typeName) != new:
            return False
        expr = expr.arg
    return column_name(expr) == column


def _old_type(stmt: Statement, ctx: Context, table: str, column: str) -> ColType | None:
    """From the database, else Alembic's existing_type, else what the linted set says."""
    db = ctx.options.db
    if db is not None and db.table(table) is not None:
        found = db.column_type(table, column)
        return parse_type(found) if found is not None else None
    hinted = existing_type(stmt.source, stmt.start, table, column)
    return hinted if hinted is not None else ctx.known.column_type(table, column)


def type_change(stmt: Statement, ctx: Context, table: str, cmd: Any) -> tuple[Any, ...]:
    """(old type, new type, TypeChange, what the old version notices)."""
    col = cmd.def_
    new = type_of(col.typeName) if is_node(col, "ColumnDef") else None
    old = _old_type(stmt, ctx, table, str(cmd.name))
    if old is None or new is None:
        return old, new, TypeChange.REWRITE, ""
    if not _plain_using(col.raw_default, str(cmd.name), new):
        return old, new, TypeChange.REWRITE, ""
    return (old, new, *compare(old, new))
