"""Small AST helpers shared by the rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ConstrType

from zdmigrate.lint._expr import has_option
from zdmigrate.lint._model import Category, Check, Rule, Severity

__all__ = [
    "alter_cmds",
    "column_constraints",
    "define",
    "has_option",
    "type_name",
]


def define(
    doc: str | None,
    *,
    code: str,
    name: str,
    category: str,
    severity: Severity,
    check: Check,
    nodes: tuple[type[Any], ...],
    enabled: bool = True,
) -> Rule:
    """Build a rule; its summary is the first line of the module docstring."""
    text = (doc or "").strip()
    summary = text.splitlines()[0] if text else ""
    return Rule(code, name, summary, category, severity, check, nodes, text, enabled)


def alter_cmds(node: ast.AlterTableStmt, *subtypes: AlterTableType) -> Iterator[ast.AlterTableCmd]:
    """The subcommands of an ALTER TABLE, optionally only those of ``subtypes``."""
    if node.objtype is not None and node.objtype.name != "OBJECT_TABLE":
        return
    for cmd in node.cmds or ():
        if not subtypes or cmd.subtype in subtypes:
            yield cmd


def added_constraints(node: ast.AlterTableStmt, *kinds: ConstrType) -> Iterator[ast.Constraint]:
    for cmd in alter_cmds(node, AlterTableType.AT_AddConstraint):
        con = cmd.def_
        if isinstance(con, ast.Constraint) and con.contype in kinds:
            yield con


def added_columns(node: ast.AlterTableStmt) -> Iterator[ast.ColumnDef]:
    for cmd in alter_cmds(node, AlterTableType.AT_AddColumn):
        if isinstance(cmd.def_, ast.ColumnDef):
            yield cmd.def_


def column_constraints(col: ast.ColumnDef, *kinds: ConstrType) -> Iterator[ast.Constraint]:
    for con in col.constraints or ():
        if isinstance(con, ast.Constraint) and con.contype in kinds:
            yield con


def type_name(typ: ast.TypeName | None) -> str:
    """The last part of a type name, e.g. ``int4`` for ``pg_catalog.int4``."""
    if typ is None or not typ.names:
        return ""
    return str(typ.names[-1].sval)


LOCKING = Category.LOCKING
BREAKING = Category.BREAKING
STYLE = Category.STYLE
