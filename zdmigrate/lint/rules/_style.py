"""Shared walk for the style rules: every column type a statement declares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pglast import ast
from pglast.enums import AlterTableType

from zdmigrate.lint._context import Context
from zdmigrate.lint._model import Violation
from zdmigrate.lint._source import Statement
from zdmigrate.lint.rules._util import alter_cmds, type_name

__all__ = ["DeclaredType", "declared_types", "type_check"]

STYLE_NODES = (ast.CreateStmt, ast.AlterTableStmt)


@dataclass(frozen=True)
class DeclaredType:
    column: str
    type: str
    typmods: bool
    offset: int | None


def _declared(name: str, typ: ast.TypeName | None, offset: int | None) -> DeclaredType:
    return DeclaredType(name, type_name(typ), bool(typ is not None and typ.typmods), offset)


def declared_types(node: ast.Node) -> Iterator[DeclaredType]:
    """Columns created by CREATE TABLE or ADD COLUMN, and new types of ALTER COLUMN TYPE."""
    if isinstance(node, ast.CreateStmt):
        for elt in node.tableElts or ():
            if isinstance(elt, ast.ColumnDef):
                yield _declared(str(elt.colname), elt.typeName, elt.location)
        return
    if not isinstance(node, ast.AlterTableStmt):
        return
    kinds = (AlterTableType.AT_AddColumn, AlterTableType.AT_AlterColumnType)
    for cmd in alter_cmds(node, *kinds):
        col = cmd.def_
        if isinstance(col, ast.ColumnDef):
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
