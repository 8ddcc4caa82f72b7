"""Statements that only change the catalog: they add no run time while a lock is held.

A statement is catalog-only when PostgreSQL neither reads nor rewrites a
table's rows for it: transaction control and settings, comments, functions,
triggers, renames, new tables, drops, and the ALTER TABLE subcommands below.
A statement on a table created in the open transaction is quick too: the
only rows there are those the transaction itself wrote, and writing them was
reported already.
"""

from __future__ import annotations

from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._expr import is_node
from zdmigrate.lint._typechange import type_change
from zdmigrate.lint._types import TypeChange
from zdmigrate.lint._volatile import volatile_call
from zdmigrate.lint.locks import statement_lock
from zdmigrate.lint.source import Statement

__all__ = ["QUIET", "adds_no_run_time"]

QUIET = frozenset(
    {
        "TransactionStmt",
        "VariableSetStmt",
        "VariableShowStmt",
        "CommentStmt",
        "CreateFunctionStmt",
        "CreateTrigStmt",
        "RenameStmt",
        "CreateStmt",
        "CreateEnumStmt",
        "CreateSeqStmt",
        "AlterSeqStmt",
        "ViewStmt",
        "GrantStmt",
        "CreateSchemaStmt",
        "CompositeTypeStmt",
        "DropStmt",
    }
)
_ALTER_QUIET = frozenset(
    {
        "AT_DropColumn",
        "AT_DropConstraint",
        "AT_ColumnDefault",
        "AT_DropNotNull",
        "AT_SetStatistics",
        "AT_SetOptions",
        "AT_ResetOptions",
        "AT_SetStorage",
        "AT_SetCompression",
        "AT_SetRelOptions",
        "AT_ResetRelOptions",
        "AT_AddIndexConstraint",
        "AT_ReplicaIdentity",
        "AT_ChangeOwner",
        "AT_DropIdentity",
        "AT_AlterConstraint",
        "AT_EnableTrig",
        "AT_DisableTrig",
        "AT_EnableAlwaysTrig",
        "AT_EnableReplicaTrig",
        "AT_EnableTrigAll",
        "AT_DisableTrigAll",
        "AT_EnableTrigUser",
        "AT_DisableTrigUser",
    }
)
_SERIALS = frozenset({"serial", "serial4", "serial8", "bigserial", "smallserial", "serial2"})
# Column constraints whose ADD COLUMN checks or numbers the existing rows.
_SCANNING = frozenset(
    {
        "CONSTR_CHECK",
        "CONSTR_FOREIGN",
        "CONSTR_UNIQUE",
        "CONSTR_PRIMARY",
        "CONSTR_EXCLUSION",
        "CONSTR_IDENTITY",
    }
)


def _quiet_column(col: Any, ctx: Context) -> bool:
    """ADD COLUMN with no rewrite and no scan: no volatile default (none at all before
    11), not stored generated, not serial or identity, no checked constraint."""
    if not is_node(col, "ColumnDef"):
        return False
    names = col.typeName.names if col.typeName is not None else ()
    if names and str(names[-1].sval) in _SERIALS:
        return False
    for con in col.constraints or ():
        kind = con.contype if is_node(con, "Constraint") else None
        if kind in _SCANNING or kind == "CONSTR_GENERATED":
            return False
        if kind == "CONSTR_DEFAULT":
            null = is_node(con.raw_expr, "A_Const") and bool(con.raw_expr.isnull)
            if (ctx.pg_version < 11 and not null) or volatile_call(ctx, con.raw_expr):
                return False
    return True


def _quiet_cmd(stmt: Statement, ctx: Context, cmd: Any) -> bool:
    sub = cmd.subtype
    if sub in _ALTER_QUIET:
        return True
    if sub == "AT_AddColumn":
        return _quiet_column(cmd.def_, ctx)
    if sub == "AT_AddConstraint":
        con = cmd.def_
        return is_node(con, "Constraint") and bool(con.skip_validation)
    if sub == "AT_AlterColumnType":
        table = rel_key(stmt.node.relation)
        return type_change(stmt, ctx, table, cmd)[2] is not TypeChange.REWRITE
    return False


def _on_transaction_table(stmt: Statement, ctx: Context) -> bool:
    lock = statement_lock(stmt.node)
    return lock is not None and ctx.in_transaction_table(lock.table)


def adds_no_run_time(stmt: Statement, ctx: Context) -> bool:
    """True for a catalog-only statement (see the module docstring)."""
    found = stmt.facts.get("quiet")
    if found is None:
        found = stmt.facts["quiet"] = _adds_no_run_time(stmt, ctx)
    return bool(found)


def _adds_no_run_time(stmt: Statement, ctx: Context) -> bool:
    if stmt.tag in QUIET:
        return stmt.tag != "CreateStmt" or not _partition_of(stmt.node)
    if stmt.node is None:
        return False
    if _on_transaction_table(stmt, ctx):
        return True
    if stmt.tag == "AlterTableStmt" and stmt.node.objtype in (None, "OBJECT_TABLE"):
        cmds = stmt.node.cmds or ()
        return bool(cmds) and all(_quiet_cmd(stmt, ctx, cmd) for cmd in cmds)
    return False


def _partition_of(node: Any) -> bool:
    """CREATE TABLE ... PARTITION OF scans the parent's default partition, if any."""
    return node is not None and node.partbound is not None
