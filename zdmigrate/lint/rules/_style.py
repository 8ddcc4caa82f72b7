"""Shared walk for the style rules: every column type a statement declares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from zdmigrate.lint._context import Context
from zdmigrate.lint._model import Violation
from zdmigrate.lint.rules._util import alter_cmds, is_node, type_name
from zdmigrate.lint.source import Statement

__all__ = ["DeclaredType", "declared_types", "type_check"]

STYLE_NODES = ("CreateStmt", "AlterTableStmt:AT_AddColumn", "AlterTableStmt:AT_AlterColumnType")
_SHOWN = {"int2": "smallint", "int4": "integer", "int8": "bigint", "bpchar": "char"}


@dataclass(frozen=True)
class DeclaredType:
    column: str
    type: str
    typmods: bool
    offset: int | None


def _declared(name: str, typ: Any, offset: int | None) -> DeclaredType:
    return DeclaredType(name, type_name(typ), bool(typ is not None and typ.typmods), offset)


def declared_types(node: Any) -> Iterator[DeclaredType]:
    """Columns created by CREATE TABLE or ADD COLUMN, and new types of ALTER COLUMN TYPE."""
    if is_node(node, "CreateStmt"):
        for elt in node.tableElts or ():
            if is_node(elt, "ColumnDef"):
                yield _declared(str(elt.colname), elt.typeName, elt.location)
        return
    if not is_node(node, "AlterTableStmt"):
        return
    kinds = ("AT_AddColumn", "AT_AlterColumnType")
    for cmd in alter_cmds(node, *kinds):
        col = cmd.def_
        if is_node(col, "ColumnDef"):
            yield _declared(str(col.colname or cmd.name), col.typeName, col.location)


def type_check(
    matches: Callable[[DeclaredType], bool], message: str, help_: str
) -> Callable[[Statement, Context], Iterator[Violation]]:
    """A check reporting every declared type for which ``matches`` is true."""

    def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
        for decl in declared_types(stmt.node):
            if matches(decl):
                yield Violation(message.format(col=decl.column, type=decl.type), help_, decl.offset)

    return check
