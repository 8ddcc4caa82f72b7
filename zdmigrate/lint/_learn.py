"""Keep ``ctx.known`` (column types, NOT NULL checks) in step with each statement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._expr import column_name, is_node
from zdmigrate.lint._types import type_of

__all__ = ["learn", "not_null_column"]


def not_null_column(expr: Any) -> str | None:
    """``col`` when ``expr`` is ``col IS NOT NULL``."""
    if not is_node(expr, "NullTest") or expr.nulltesttype != "IS_NOT_NULL":
        return None
    return column_name(expr.arg)


def _check(ctx: Context, table: str, con: Any, valid: bool) -> None:
    if not is_node(con, "Constraint") or con.contype != "CONSTR_CHECK":
        return
    column = not_null_column(con.raw_expr)
    if column is not None:
        bare = table.rsplit(".", 1)[-1]
        name = str(con.conname) if con.conname else f"{bare}_{column}_check"
        ctx.known.add_not_null_check(table, name, column, valid)


def _create(node: Any, ctx: Context) -> None:
    table = rel_key(node.relation)
    ctx.known.drop_table(table)
    for elt in node.tableElts or ():
        if is_node(elt, "ColumnDef"):
            ctx.known.set_column(table, str(elt.colname), type_of(elt.typeName))
        else:
            _check(ctx, table, elt, not elt.skip_validation)


def _add_column(ctx: Context, table: str, cmd: Any) -> None:
    col = cmd.def_
    if is_node(col, "ColumnDef"):
        ctx.known.set_column(table, str(col.colname), type_of(col.typeName))


def _alter_type(ctx: Context, table: str, cmd: Any) -> None:
    col = cmd.def_
    if is_node(col, "ColumnDef"):
        ctx.known.set_column(table, str(cmd.name), type_of(col.typeName))


_ALTER: dict[str, Callable[[Context, str, Any], None]] = {
    "AT_AddColumn": _add_column,
    "AT_AlterColumnType": _alter_type,
    "AT_DropColumn": lambda ctx, t, cmd: ctx.known.drop_column(t, str(cmd.name)),
    "AT_AddConstraint": lambda ctx, t, cmd: _check(ctx, t, cmd.def_, not cmd.def_.skip_validation),
    "AT_ValidateConstraint": lambda ctx, t, cmd: ctx.known.validate(t, str(cmd.name)),
    "AT_DropConstraint": lambda ctx, t, cmd: ctx.known.drop_constraint(t, str(cmd.name)),
}


def _alter(node: Any, ctx: Context) -> None:
    if node.objtype not in (None, "OBJECT_TABLE"):
        return
    table = rel_key(node.relation)
    for cmd in node.cmds or ():
        handler = _ALTER.get(cmd.subtype)
        if handler is not None:
            handler(ctx, table, cmd)


def _rename(node: Any, ctx: Context) -> None:
    if node.relation is None:
        return
    table, kind = rel_key(node.relation), node.renameType
    if kind == "OBJECT_COLUMN":
        ctx.known.rename_column(table, str(node.subname), str(node.newname))
    elif kind == "OBJECT_TABCONSTRAINT":
        ctx.known.rename_constraint(table, str(node.subname), str(node.newname))
    elif kind == "OBJECT_TABLE":
        schema = node.relation.schemaname
        ctx.known.rename_table(table, f"{schema}.{node.newname}" if schema else str(node.newname))


def _drop(node: Any, ctx: Context) -> None:
    if node.removeType == "OBJECT_TABLE":
        for names in node.objects or ():
            ctx.known.drop_table(".".join(str(n.sval) for n in names))


_HANDLERS: dict[str, Callable[[Any, Context], None]] = {
    "CreateStmt": _create,
    "AlterTableStmt": _alter,
    "RenameStmt": _rename,
    "DropStmt": _drop,
}


def learn(tag: str, node: Any, ctx: Context) -> None:
    """Record what the statement ``node`` (of type ``tag``) did to the known tables."""
    handler = _HANDLERS.get(tag)
    if handler is not None and node is not None:
        handler(node, ctx)
