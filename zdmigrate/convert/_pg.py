"""pglast helpers: parse statements, print expressions, type names and names back as SQL."""

from __future__ import annotations

from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream, maybe_double_quote_name

__all__ = [
    "ParseError",
    "clause_sql",
    "column_refs",
    "expr_sql",
    "ident",
    "normal_type",
    "parse_statement",
    "qualified",
    "statement_sql",
    "type_sql",
]


def parse_statement(sql: str) -> ast.Node | None:
    """The parse tree of the one statement in ``sql`` (None when it holds none)."""
    stmts = parse_sql(sql)
    return stmts[0].stmt if stmts else None


def expr_sql(node: Any) -> str:
    """An expression node as SQL text."""
    return str(RawStream()(node))


def clause_sql(node: Any, fallback: str) -> str:
    """A clause as SQL text for a note (``ALTER COLUMN age SET STATISTICS 500``,
    ``GENERATED ALWAYS AS (1) STORED``); ``fallback`` when pglast cannot print it
    without its statement."""
    try:
        text = " ".join(str(RawStream()(node)).split())
    except Exception:  # pglast's printers of some clauses need the whole statement
        return fallback
    return text or fallback


def type_sql(node: Any) -> str:
    """A type name as SQL text (``bigint``, ``varchar(255)``, ``text[]``); the parser's
    ``pg_catalog.`` on keyword types (``json``) is left out, as the user wrote it."""
    text = str(RawStream()(node))
    return text.removeprefix("pg_catalog.")


def normal_type(text: str) -> str:
    """A type name as PostgreSQL prints it (``INTEGER`` -> ``integer``); as given if odd."""
    try:
        node = parse_statement("SELECT NULL::" + text)
    except ParseError:
        return text
    if isinstance(node, ast.SelectStmt) and node.targetList:
        value = node.targetList[0].val
        if isinstance(value, ast.TypeCast) and value.typeName is not None:
            return type_sql(value.typeName)
    return text


def ident(name: str) -> str:
    """A column name as it must be written in an expression (quoted when needed)."""
    return str(maybe_double_quote_name(name))


def qualified(rel: Any) -> str:
    """A table as a migration file names it: ``name`` or ``schema.name``."""
    name = str(rel.relname)
    return f"{rel.schemaname}.{name}" if rel.schemaname else name


def column_refs(node: Any) -> list[str]:
    """The unqualified columns an expression names, in order of appearance, once each."""
    from pglast.visitors import Visitor

    found: list[str] = []

    class _Refs(Visitor):
        def visit_ColumnRef(self, ancestors: object, ref: ast.ColumnRef) -> None:
            fields = ref.fields or ()
            if len(fields) == 1 and isinstance(fields[0], ast.String):
                name = str(fields[0].sval)
                if name not in found:
                    found.append(name)

    _Refs()(node)
    return found


def statement_sql(node: Any) -> str:
    """A statement tree printed back as SQL."""
    return str(RawStream()(node))
