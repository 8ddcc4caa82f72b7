"""How each statement changes the context the following statements are checked in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pglast import ast
from pglast.enums import (
    AlterTableType,
    ConstrType,
    ObjectType,
    TransactionStmtKind,
    VariableSetKind,
)

from zdmigrate.lint._context import Context, LockHeld, rel_key
from zdmigrate.lint._source import Statement
from zdmigrate.lint.locks import SHARE, existing_lock, rank

__all__ = ["track"]

_TK = TransactionStmtKind
_BEGIN = frozenset({_TK.TRANS_STMT_BEGIN, _TK.TRANS_STMT_START})
_END = frozenset(
    {
        _TK.TRANS_STMT_COMMIT,
        _TK.TRANS_STMT_ROLLBACK,
        _TK.TRANS_STMT_PREPARE,
        _TK.TRANS_STMT_COMMIT_PREPARED,
        _TK.TRANS_STMT_ROLLBACK_PREPARED,
    }
)
_QUIET = (ast.TransactionStmt, ast.VariableSetStmt, ast.VariableShowStmt, ast.CommentStmt)


def _transaction(node: ast.TransactionStmt, ctx: Context) -> None:
    if node.kind in _BEGIN:
        ctx.in_transaction = True
        ctx.end_transaction()
    elif node.kind in _END:
        ctx.in_transaction = False
        ctx.end_transaction()


def _timeout_value(node: ast.VariableSetStmt) -> bool:
    if node.kind != VariableSetKind.VAR_SET_VALUE or not node.args:
        return False
    arg = node.args[0]
    value = getattr(arg, "val", None)
    if isinstance(value, ast.Integer):
        return value.ival != 0
    if isinstance(value, ast.String):
        return str(value.sval).strip() not in ("0", "")
    return True


def _set(node: ast.VariableSetStmt, ctx: Context) -> None:
    if node.kind == VariableSetKind.VAR_RESET_ALL:
        ctx.lock_timeout_session = ctx.lock_timeout_local = False
        return
    if node.name != "lock_timeout":
        return
    value = _timeout_value(node)
    if node.is_local:
        ctx.lock_timeout_local = value
    else:
        ctx.lock_timeout_session = value
        ctx.lock_timeout_local = False


def _create(node: ast.CreateStmt, ctx: Context) -> None:
    ctx.add_new_table(node.relation)


def _create_as(node: ast.CreateTableAsStmt, ctx: Context) -> None:
    if node.into is not None:
        ctx.add_new_table(node.into.rel)


def _index(node: ast.IndexStmt, ctx: Context) -> None:
    if node.idxname:
        ctx.new_indexes.add(str(node.idxname))


def _schema(node: ast.CreateSchemaStmt, ctx: Context) -> None:
    if node.schemaname:
        ctx.new_schemas.add(str(node.schemaname))


def _rename(node: ast.RenameStmt, ctx: Context) -> None:
    rel = node.relation
    if node.renameType == ObjectType.OBJECT_TABLE and rel is not None and ctx.is_new(rel):
        ctx.add_new_table(ast.RangeVar(relname=node.newname, schemaname=rel.schemaname))


def _alter(node: ast.AlterTableStmt, ctx: Context) -> None:
    if not ctx.in_transaction:
        return
    for cmd in node.cmds or ():
        con = cmd.def_
        if (
            cmd.subtype == AlterTableType.AT_AddConstraint
            and isinstance(con, ast.Constraint)
            and con.skip_validation
            and con.contype in (ConstrType.CONSTR_CHECK, ConstrType.CONSTR_FOREIGN)
        ):
            ctx.not_valid.add((rel_key(node.relation), str(con.conname)))


_HANDLERS: dict[type[Any], Callable[[Any, Context], None]] = {
    ast.TransactionStmt: _transaction,
    ast.VariableSetStmt: _set,
    ast.CreateStmt: _create,
    ast.CreateTableAsStmt: _create_as,
    ast.IndexStmt: _index,
    ast.CreateSchemaStmt: _schema,
    ast.RenameStmt: _rename,
    ast.AlterTableStmt: _alter,
}


def _locks(stmt: Statement, ctx: Context) -> None:
    if not ctx.in_transaction or isinstance(stmt.node, _QUIET):
        return
    if ctx.strong_lock is not None:
        ctx.strong_lock_reported = True
        return
    lock = existing_lock(stmt, ctx)
    if lock is not None and lock.rank >= rank(SHARE):
        line = stmt.source.position(stmt.start).line
        ctx.strong_lock = LockHeld(lock.table, lock.level, line)


def _timeout_reported(stmt: Statement, ctx: Context) -> None:
    if ctx.lock_timeout_set:
        return
    lock = existing_lock(stmt, ctx)
    if lock is not None and lock.rank >= rank(SHARE):
        ctx.lock_timeout_reported = True


def track(stmt: Statement, ctx: Context) -> None:
    """Update ``ctx`` with what ``stmt`` did; called after the rules saw it."""
    _locks(stmt, ctx)
    _timeout_reported(stmt, ctx)
    handler = _HANDLERS.get(type(stmt.node))
    if handler is not None:
        handler(stmt.node, ctx)
