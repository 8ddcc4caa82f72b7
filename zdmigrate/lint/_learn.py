"""Keep ``ctx.known`` (column types, NOT NULL checks) in step with each statement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._expr import column_names, constants, is_node, not_null_columns
from zdmigrate.lint._node import parse_one
from zdmigrate.lint._privileges import learn_privileges
from zdmigrate.lint._types import type_of
from zdmigrate.lint.source import Statement

__all__ = ["learn"]

_NOT_NULL = ("CONSTR_NOTNULL", "CONSTR_PRIMARY")


def _check(ctx: Context, table: str, con: Any, valid: bool, on: str = "") -> None:
    if not is_node(con, "Constraint"):
        return
    if con.contype == "CONSTR_PRIMARY" and not on:
        for key in con.keys or ():
            ctx.known.set_not_null(table, str(key.sval), True)
    if con.contype != "CONSTR_CHECK":
        return
    expr = con.raw_expr
    proven, columns = not_null_columns(expr), column_names(expr)
    bare = table.rsplit(".", 1)[-1]
    # PostgreSQL names an unnamed check after the table and its (first) column
    first = on or min(columns, default="")
    name = str(con.conname) if con.conname else f"{bare}_{first}_check".replace("__", "_")
    if proven:
        ctx.known.add_not_null_check(table, name, proven, valid)
    ctx.known.add_check(table, name, constants(expr), columns, valid)


def _column(ctx: Context, table: str, col: Any) -> None:
    name = str(col.colname)
    ctx.known.set_column(table, name, type_of(col.typeName))
    cons = [c for c in col.constraints or () if is_node(c, "Constraint")]
    if col.is_not_null or any(c.contype in _NOT_NULL for c in cons):
        ctx.known.set_not_null(table, name, True)
    for con in cons:
        _check(ctx, table, con, not con.skip_validation, name)


def _create(node: Any, ctx: Context) -> None:
    table = rel_key(node.relation)
    ctx.known.drop_table(table)
    for elt in node.tableElts or ():
        if is_node(elt, "ColumnDef"):
            _column(ctx, table, elt)
        else:
            _check(ctx, table, elt, not elt.skip_validation)


def _add_column(ctx: Context, table: str, cmd: Any) -> None:
    if is_node(cmd.def_, "ColumnDef"):
        _column(ctx, table, cmd.def_)


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
    "AT_SetNotNull": lambda ctx, t, cmd: ctx.known.set_not_null(t, str(cmd.name), True),
    "AT_DropNotNull": lambda ctx, t, cmd: ctx.known.set_not_null(t, str(cmd.name), False),
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


def _function(text: str, ctx: Context) -> None:
    """A function's declared volatility (VOLATILE unless it says otherwise)."""
    try:
        node = parse_one(text)
    except Exception:  # pglast's ParseError: the statement parsed as one before
        return
    names = [str(n.sval) for n in node.funcname or ()]
    if not names:
        return
    volatility = "volatile"
    for opt in node.options or ():
        if is_node(opt, "DefElem") and opt.defname == "volatility" and is_node(opt.arg, "String"):
            volatility = str(opt.arg.sval)
    ctx.known.set_function(names[-2] if len(names) > 1 else "", names[-1], volatility)


def learn(stmt: Statement, ctx: Context) -> None:
    """Record what ``stmt`` did to the known tables, functions and privileges."""
    learn_privileges(stmt, ctx)
    if stmt.tag == "CreateFunctionStmt":
        _function(stmt.text, ctx)
        return
    handler = _HANDLERS.get(stmt.tag)
    if handler is not None and stmt.node is not None:
        handler(stmt.node, ctx)
