"""Checks that SQL fragments in migration files are what they claim to be.

Migration expressions (``up``, ``down``, checks, defaults) are SQL by design.
Each is parsed with pglast, the real PostgreSQL parser, and anything that is
not exactly one expression is refused, so a fragment can never smuggle a
second statement into the SQL zdmigrate composes around it.
"""

from __future__ import annotations

from pglast import ast, parse_sql
from pglast.parser import ParseError

__all__ = [
    "check_expression",
    "check_statements",
    "check_type_name",
    "referenced_columns",
    "rename_columns",
]


def _parse(sql: str) -> list[ast.RawStmt]:
    try:
        return list(parse_sql(sql))
    except ParseError as exc:
        raise ValueError(str(exc.args[0])) from None


def _single_select(prefix: str, fragment: str) -> ast.Node:
    """The one target expression of ``SELECT <fragment>``; ValueError otherwise."""
    stmts = _parse(prefix + fragment)
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.SelectStmt):
        raise ValueError("must be a single SQL expression, not several statements")
    select = stmts[0].stmt
    extra = (
        select.fromClause,
        select.whereClause,
        select.groupClause,
        select.havingClause,
        select.sortClause,
        select.limitCount,
        select.limitOffset,
        select.withClause,
        select.lockingClause,
        select.windowClause,
        select.distinctClause,
        select.valuesLists,
        select.larg,
    )
    if any(extra) or not select.targetList or len(select.targetList) != 1:
        raise ValueError("must be a single SQL expression (no FROM, WHERE, commas or clauses)")
    target = select.targetList[0]
    if target.name is not None:
        raise ValueError("must be a single SQL expression without an alias")
    value: ast.Node = target.val
    return value


def check_expression(fragment: str) -> str:
    """Return ``fragment`` stripped if it parses as exactly one SQL expression."""
    text = fragment.strip()
    if not text:
        raise ValueError("must not be empty")
    _single_select("SELECT ", text)
    return text


def check_type_name(fragment: str) -> str:
    """Return ``fragment`` stripped if it parses as one PostgreSQL type name."""
    text = fragment.strip()
    if not text:
        raise ValueError("must not be empty")
    try:
        value = _single_select("SELECT NULL::", text)
    except ValueError:
        raise ValueError(f"'{text}' is not a PostgreSQL type name") from None
    if not isinstance(value, ast.TypeCast) or not isinstance(value.arg, ast.A_Const):
        raise ValueError(f"'{text}' is not a PostgreSQL type name")
    return text


def check_statements(sql: str) -> str:
    """Return ``sql`` stripped if it parses as one or more SQL statements."""
    text = sql.strip()
    if not text:
        raise ValueError("must not be empty")
    if not _parse(text):
        raise ValueError("contains no SQL statement")
    return text


def rename_columns(fragment: str, mapping: dict[str, str], qualifier: str | None = None) -> str:
    """``fragment`` with unqualified column references renamed by ``mapping``
    (and qualified with ``qualifier``, e.g. ``NEW`` inside a trigger)."""
    from pglast.stream import RawStream
    from pglast.visitors import Visitor

    class _Rename(Visitor):
        def visit_ColumnRef(self, ancestors: object, node: ast.ColumnRef) -> None:
            fields = node.fields or ()
            if len(fields) == 1 and isinstance(fields[0], ast.String):
                new = mapping.get(str(fields[0].sval))
                if new is not None:
                    prefix = (ast.String(sval=qualifier),) if qualifier else ()
                    node.fields = (*prefix, ast.String(sval=new))

    tree = parse_sql("SELECT " + fragment)
    _Rename()(tree)
    select = tree[0].stmt
    assert isinstance(select, ast.SelectStmt) and select.targetList
    return str(RawStream()(select.targetList[0].val))


def referenced_columns(expr: str, columns: list[str]) -> list[str]:
    """The columns among ``columns`` that ``expr`` names (unqualified), in ``columns`` order."""
    from pglast.visitors import Visitor

    names: set[str] = set()

    class _Refs(Visitor):
        def visit_ColumnRef(self, ancestors: object, node: ast.ColumnRef) -> None:
            fields = node.fields or ()
            if len(fields) == 1 and isinstance(fields[0], ast.String):
                names.add(str(fields[0].sval))

    _Refs()(parse_sql("SELECT " + expr))
    return [c for c in columns if c in names]
