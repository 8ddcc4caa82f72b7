"""How each statement changes the context the following statements are checked in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zdmigrate.lint._catalog import adds_no_run_time
from zdmigrate.lint._context import Context, LockHeld, rel_key
from zdmigrate.lint._expr import is_node
from zdmigrate.lint._learn import learn
from zdmigrate.lint._node import const_value
from zdmigrate.lint.locks import SHARE, existing_lock, rank
from zdmigrate.lint.source import Statement

__all__ = ["track"]

_BEGIN = frozenset({"TRANS_STMT_BEGIN", "TRANS_STMT_START"})
_END = frozenset(
    {
        "TRANS_STMT_COMMIT",
        "TRANS_STMT_ROLLBACK",
        "TRANS_STMT_PREPARE",
        "TRANS_STMT_COMMIT_PREPARED",
        "TRANS_STMT_ROLLBACK_PREPARED",
    }
)


def _transaction(node: Any, ctx: Context) -> None:
    if node.kind in _BEGIN:
        ctx.in_transaction = True
        ctx.end_transaction()
    elif node.kind in _END:
        ctx.in_transaction = False
        ctx.end_transaction()


def _timeout_value(node: Any) -> bool:
    if node.kind != "VAR_SET_VALUE" or not node.args:
        return False
    value = const_value(node.args[0])
    if isinstance(value, str):
        return value.strip() not in ("0", "")
    return value is None or bool(value)


_TIMEOUTS = ("lock_timeout", "statement_timeout")


def _set_timeout(ctx: Context, name: str, value: bool, local: bool) -> None:
    """``ctx.<name>_local`` / ``_session`` after SET [LOCAL] name = value."""
    if local:
        setattr(ctx, f"{name}_local", value)
    else:
        setattr(ctx, f"{name}_session", value)
        setattr(ctx, f"{name}_local", False)


def _set(node: Any, ctx: Context) -> None:
    if node.kind == "VAR_RESET_ALL":
        for name in _TIMEOUTS:
            _set_timeout(ctx, name, False, False)
        return
    if node.name in _TIMEOUTS:
        _set_timeout(ctx, node.name, _timeout_value(node), bool(node.is_local))


def _create(node: Any, ctx: Context) -> None:
    ctx.add_new_table(node.relation)


def _create_as(node: Any, ctx: Context) -> None:
    if node.into is not None:
        ctx.add_new_table(node.into.rel)


def _index(node: Any, ctx: Context) -> None:
    if node.idxname:
        ctx.new_indexes.add(str(node.idxname))


def _schema(node: Any, ctx: Context) -> None:
    if node.schemaname:
        ctx.new_schemas.add(str(node.schemaname))


def _rename(node: Any, ctx: Context) -> None:
    rel = node.relation
    if node.renameType == "OBJECT_TABLE" and rel is not None and ctx.is_new(rel):
        schema = rel.schemaname
        ctx.add_new_table(f"{schema}.{node.newname}" if schema else str(node.newname))


def _alter(node: Any, ctx: Context) -> None:
    if not ctx.in_transaction:
        return
    for cmd in node.cmds or ():
        con = cmd.def_
        if (
            cmd.subtype == "AT_AddConstraint"
            and is_node(con, "Constraint")
            and con.skip_validation
            and con.contype in ("CONSTR_CHECK", "CONSTR_FOREIGN")
        ):
            ctx.not_valid.add((rel_key(node.relation), str(con.conname)))


def _set_config(node: Any, ctx: Context) -> None:
    """``SELECT set_config('lock_timeout', value, is_local)`` works like SET."""
    for target in node.targetList or ():
        call = target.val
        if not is_node(call, "FuncCall") or call.funcname[-1].sval != "set_config":
            continue
        args = [const_value(a) for a in call.args or ()]
        if len(args) == 3 and args[0] in _TIMEOUTS and isinstance(args[1], str):
            value = args[1].strip() not in ("0", "")
            local = args[2] in (True, "true", "t", "on")
            if local:
                setattr(ctx, f"{args[0]}_local", value)
            else:
                setattr(ctx, f"{args[0]}_session", value)


_HANDLERS: dict[str, Callable[[Any, Context], None]] = {
    "TransactionStmt": _transaction,
    "VariableSetStmt": _set,
    "CreateStmt": _create,
    "CreateTableAsStmt": _create_as,
    "IndexStmt": _index,
    "CreateSchemaStmt": _schema,
    "RenameStmt": _rename,
    "AlterTableStmt": _alter,
    "SelectStmt": _set_config,
}


def _locks(stmt: Statement, ctx: Context) -> None:
    """The first strong lock of a transaction, and whether a statement that takes time
    ran while it was held (catalog-only statements take a lock but add no time)."""
    if not ctx.in_transaction:
        return
    if ctx.strong_lock is not None:
        if not adds_no_run_time(stmt, ctx):
            ctx.strong_lock_reported = True
        return
    lock = existing_lock(stmt, ctx)
    if lock is not None and lock.rank >= rank(SHARE):
        line = stmt.source.position(stmt.start).line
        ctx.strong_lock = LockHeld(lock.table, lock.level, line)


def _timeout_reported(stmt: Statement, ctx: Context) -> None:
    if ctx.lock_timeout_set and ctx.statement_timeout_set:
        return
    lock = existing_lock(stmt, ctx)
    if lock is not None and lock.rank >= rank(SHARE):
        if not ctx.lock_timeout_set:
            ctx.lock_timeout_reported = True
        if not ctx.statement_timeout_set:
            ctx.statement_timeout_reported = True


def track(stmt: Statement, ctx: Context) -> None:
    """Update ``ctx`` with what ``stmt`` did; called after the rules saw it."""
    _locks(stmt, ctx)
    _timeout_reported(stmt, ctx)
    handler = _HANDLERS.get(stmt.tag)
    if handler is not None and stmt.node is not None:
        handler(stmt.node, ctx)
    learn(stmt, ctx)
