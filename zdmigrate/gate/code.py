"""Static-code evidence for the contract gate: does application code still use what contract drops?

Two sources, both reporting :class:`CodeEvidence`:

* :func:`scan_paths` reads Python files with :mod:`ast` (never imports or runs them) and
  looks at string literals that PostgreSQL's parser (pglast) accepts as data statements
  (SELECT/INSERT/UPDATE/DELETE/MERGE/COPY, also behind EXPLAIN/PREPARE/DECLARE/CREATE
  TABLE AS), and at SQLAlchemy models written the usual ways (``Table(...)`` with
  ``Column(...)``; declarative classes with ``__tablename__`` and ``Column``,
  ``mapped_column`` or bare ``Mapped[...]`` attributes; ``ForeignKey("t.c")``).
* :func:`scan_models` imports the application's models and walks their ``MetaData``.

Name matching: an unqualified table in SQL, and a model or ``Table`` without a schema,
match the deprecated table in any schema (the search path is not known here); a qualified
one must name the same schema. Names are compared exactly as PostgreSQL folds them
(unquoted identifiers are lower case).

Deliberately not recognised: SQL fragments that are not whole statements (``"filler = %s"``
joined later), identifiers built at run time (``psycopg.sql.Identifier``, f-string holes
used as names), SQL inside functions, views or ``DO`` blocks, DDL strings, docstrings,
bytes literals, and models whose table name is computed (``declared_attr``).
"""

from __future__ import annotations

import ast
import bisect
import importlib
import inspect
import io
import json
import os
import re
import sys
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pglast.parser import ParseError, parse_sql_json
from sqlalchemy import MetaData, Table
from sqlalchemy.orm import registry

from zdmigrate.errors import ConfigError
from zdmigrate.model.step import Deprecated

__all__ = ["CodeEvidence", "Deprecated", "scan_models", "scan_paths"]


@dataclass(frozen=True)
class CodeEvidence:
    file: str
    line: int
    object: Deprecated
    kind: str  # "sql" | "model"
    summary: str


def _display(obj: Deprecated) -> str:
    name = obj.table if obj.schema == "public" else f"{obj.schema}.{obj.table}"
    return name if obj.column is None else f"{name}.{obj.column}"


class _Targets:
    """The deprecated objects, looked up by table name."""

    def __init__(self, deprecated: Iterable[Deprecated]) -> None:
        self.by_table: dict[str, list[Deprecated]] = {}
        for obj in sorted(deprecated, key=lambda o: (o.schema, o.table, o.column or "")):
            self.by_table.setdefault(obj.table, []).append(obj)

    def match(self, schema: str | None, table: str) -> tuple[Deprecated, ...]:
        """Objects of ``table``; a ``schema`` of None (unqualified) matches any schema."""
        return tuple(
            o for o in self.by_table.get(table, ()) if schema is None or o.schema == schema
        )


# --------------------------------------------------------------------------- SQL analysis


@dataclass
class _Rel:
    """One FROM item (or statement target) visible by ``name``."""

    name: str
    objects: tuple[Deprecated, ...] = ()
    relname: str | None = None
    aliased: bool = False
    loc: int = 0

    def columns(self, name: str) -> list[Deprecated]:
        return [o for o in self.objects if o.column == name]

    def all_columns(self) -> list[Deprecated]:
        return [o for o in self.objects if o.column is not None]


@dataclass
class _Scope:
    parent: _Scope | None
    ctes: frozenset[str]
    rels: list[_Rel] = field(default_factory=list)


@dataclass(frozen=True)
class _Finding:
    loc: int
    obj: Deprecated
    verb: str
    note: str = ""


_WRAPPERS = ("ExplainStmt", "PrepareStmt", "DeclareCursorStmt", "CreateTableAsStmt")
_DATA_STMTS = frozenset(
    ("SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "CopyStmt")
)


def _unwrap(node: Any) -> tuple[str, dict[str, Any]]:
    """``{"Tag": {...}}`` -> ("Tag", {...}); an untagged struct -> ("", struct)."""
    if isinstance(node, dict):
        if len(node) == 1:
            ((key, inner),) = node.items()
            if isinstance(inner, dict) and key[:1].isupper():
                return key, inner
        return "", node
    return "", {}


def _loc(body: dict[str, Any], default: int) -> int:
    value = body.get("location", 0)
    return value if isinstance(value, int) and value >= 0 else default


def _is_data_stmt(tag: str, body: dict[str, Any]) -> bool:
    if tag in _DATA_STMTS:
        return True
    if tag in _WRAPPERS:
        inner, inner_body = _unwrap(body.get("query"))
        return _is_data_stmt(inner, inner_body)
    return False


class _Sql:
    """Finds references to deprecated objects in parsed statements (libpg_query JSON)."""

    def __init__(self, targets: _Targets) -> None:
        self.targets = targets
        self.found: list[_Finding] = []

    def add(self, loc: int, objs: Iterable[Deprecated], verb: str, note: str = "") -> None:
        for obj in objs:
            self.found.append(_Finding(loc, obj, verb, note))

    # statements

    def stmt(
        self, tag: str, body: dict[str, Any], parent: _Scope | None, ctes: frozenset[str]
    ) -> None:
        if tag == "SelectStmt":
            self.select(body, parent, ctes)
        elif tag == "InsertStmt":
            self.insert(body, parent, ctes)
        elif tag in ("UpdateStmt", "DeleteStmt"):
            self.update_delete(tag, body, parent, ctes)
        elif tag == "MergeStmt":
            self.merge(body, parent, ctes)
        elif tag == "CopyStmt":
            self.copy(body, parent, ctes)
        elif tag in _WRAPPERS:
            inner, inner_body = _unwrap(body.get("query"))
            if _is_data_stmt(inner, inner_body):
                self.stmt(inner, inner_body, parent, ctes)

    def with_clause(
        self, body: dict[str, Any], parent: _Scope | None, ctes: frozenset[str]
    ) -> frozenset[str]:
        clause = body.get("withClause")
        if not isinstance(clause, dict):
            return ctes
        items = [_unwrap(c)[1] for c in clause.get("ctes", ())]
        names = [str(c.get("ctename", "")) for c in items]
        # a CTE sees the ones before it; in WITH RECURSIVE, all of them
        visible = ctes | frozenset(names) if clause.get("recursive") else ctes
        for cte_body, name in zip(items, names, strict=True):
            tag, query = _unwrap(cte_body.get("ctequery"))
            self.stmt(tag, query, parent, visible)
            visible = visible | {name}
        return ctes | frozenset(names)

    def select(self, body: dict[str, Any], parent: _Scope | None, ctes: frozenset[str]) -> None:
        ctes = self.with_clause(body, parent, ctes)
        if body.get("op", "SETOP_NONE") != "SETOP_NONE":
            for side in ("larg", "rarg"):
                if isinstance(body.get(side), dict):
                    self.select(body[side], parent, ctes)
            # ORDER BY/LIMIT of a set operation name its output columns only
            outputs = _Scope(None, ctes)
            for key in ("sortClause", "limitOffset", "limitCount"):
                self.walk(body.get(key), outputs)
            return
        scope = _Scope(parent, ctes)
        for item in body.get("fromClause", ()):
            self.from_item(item, scope)
        outputs_names = frozenset(
            str(_unwrap(t)[1]["name"])
            for t in body.get("targetList", ())
            if _unwrap(t)[1].get("name")
        )
        for key in (
            "valuesLists",
            "distinctClause",
            "targetList",
            "whereClause",
            "groupClause",
            "havingClause",
            "windowClause",
            "limitOffset",
            "limitCount",
        ):
            self.walk(body.get(key), scope)
        # in ORDER BY a plain name is an output column first
        self.walk(body.get("sortClause"), scope, outputs_names)

    def range_var(self, body: dict[str, Any], scope: _Scope, verb: str) -> _Rel:
        relname = str(body.get("relname", ""))
        schema = body.get("schemaname")
        alias = _unwrap(body.get("alias"))[1].get("aliasname")
        loc = _loc(body, 0)
        name = str(alias) if alias else relname
        if schema is None and relname in scope.ctes:
            return _Rel(name, relname=relname, aliased=bool(alias), loc=loc)
        objs = self.targets.match(None if schema is None else str(schema), relname)
        self.add(loc, [o for o in objs if o.column is None], verb)
        return _Rel(name, objs, relname, bool(alias), loc)

    def from_item(self, item: Any, scope: _Scope) -> None:
        tag, body = _unwrap(item)
        if tag == "RangeVar":
            scope.rels.append(self.range_var(body, scope, "reads"))
        elif tag == "RangeSubselect":
            sub_tag, sub = _unwrap(body.get("subquery"))
            self.stmt(sub_tag, sub, scope if body.get("lateral") else scope.parent, scope.ctes)
            self.alias_rel(body, scope)
        elif tag == "JoinExpr":
            start = len(scope.rels)
            self.from_item(body.get("larg"), scope)
            self.from_item(body.get("rarg"), scope)
            joined = scope.rels[start:]
            for name in body.get("usingClause", ()):
                col = str(_unwrap(name)[1].get("sval", ""))
                for rel in joined:
                    self.add(rel.loc, rel.columns(col), "reads", "JOIN USING")
            if body.get("isNatural"):
                for rel in joined:
                    self.add(rel.loc, rel.all_columns(), "reads", "NATURAL JOIN")
            self.walk(body.get("quals"), scope)
            alias = _unwrap(body.get("alias"))[1].get("aliasname")
            if alias:
                scope.rels.append(_Rel(str(alias)))
        elif tag == "RangeTableSample":
            self.from_item(body.get("relation"), scope)
            self.walk(body.get("args"), scope)
            self.walk(body.get("repeatable"), scope)
        else:  # functions, XMLTABLE, JSON_TABLE: their arguments see the FROM items before them
            self.walk({k: v for k, v in body.items() if k != "alias"}, scope)
            self.alias_rel(body, scope)

    @staticmethod
    def alias_rel(body: dict[str, Any], scope: _Scope) -> None:
        alias = _unwrap(body.get("alias"))[1].get("aliasname")
        if alias:
            scope.rels.append(_Rel(str(alias), aliased=True))

    def target_names(self, targets: Any, rel: _Rel, scope: _Scope) -> None:
        """SET/INSERT targets: each names a column of ``rel`` written; values are read."""
        for item in targets or ():
            res = _unwrap(item)[1]
            if res.get("name"):
                self.add(_loc(res, rel.loc), rel.columns(str(res["name"])), "writes")
            self.walk(res.get("val"), scope)
            self.walk(res.get("indirection"), scope)

    def returning(self, body: dict[str, Any], scope: _Scope) -> None:
        clause = body.get("returningClause")
        exprs = clause.get("exprs") if isinstance(clause, dict) else body.get("returningList")
        self.walk(exprs, scope)

    def insert(self, body: dict[str, Any], parent: _Scope | None, ctes: frozenset[str]) -> None:
        ctes = self.with_clause(body, parent, ctes)
        scope = _Scope(parent, ctes)
        rel = self.range_var(body.get("relation") or {}, scope, "writes")
        cols = body.get("cols") or ()
        for item in cols:
            res = _unwrap(item)[1]
            self.add(_loc(res, rel.loc), rel.columns(str(res.get("name", ""))), "writes")
        select = body.get("selectStmt")
        if select is not None:
            sel_tag, sel = _unwrap(select)
            self.stmt(sel_tag, sel, parent, ctes)
            if not cols:
                self.add(rel.loc, rel.all_columns(), "writes", "INSERT without a column list")
        scope.rels.append(rel)
        conflict = body.get("onConflictClause")
        if isinstance(conflict, dict):
            excluded = _Rel("excluded", tuple(rel.all_columns()), loc=rel.loc)
            conflict_scope = _Scope(parent, ctes, [rel, excluded])
            infer = conflict.get("infer")
            if isinstance(infer, dict):
                for elem in infer.get("indexElems", ()):
                    index = _unwrap(elem)[1]
                    if index.get("name"):
                        loc = _loc(infer, rel.loc)
                        self.add(loc, rel.columns(str(index["name"])), "reads", "ON CONFLICT")
                    self.walk(index.get("expr"), conflict_scope)
                self.walk(infer.get("whereClause"), conflict_scope)
            self.target_names(conflict.get("targetList"), rel, conflict_scope)
            self.walk(conflict.get("whereClause"), conflict_scope)
        self.returning(body, scope)

    def update_delete(
        self, tag: str, body: dict[str, Any], parent: _Scope | None, ctes: frozenset[str]
    ) -> None:
        ctes = self.with_clause(body, parent, ctes)
        scope = _Scope(parent, ctes)
        verb = "writes" if tag == "UpdateStmt" else "deletes from"
        rel = self.range_var(body.get("relation") or {}, scope, verb)
        scope.rels.append(rel)
        for item in body.get("fromClause" if tag == "UpdateStmt" else "usingClause", ()):
            self.from_item(item, scope)
        if tag == "UpdateStmt":
            self.target_names(body.get("targetList"), rel, scope)
        self.walk(body.get("whereClause"), scope)
        self.returning(body, scope)

    def merge(self, body: dict[str, Any], parent: _Scope | None, ctes: frozenset[str]) -> None:
        ctes = self.with_clause(body, parent, ctes)
        scope = _Scope(parent, ctes)
        rel = self.range_var(body.get("relation") or {}, scope, "writes")
        scope.rels.append(rel)
        self.from_item(body.get("sourceRelation"), scope)
        self.walk(body.get("joinCondition"), scope)
        for item in body.get("mergeWhenClauses", ()):
            when = _unwrap(item)[1]
            self.walk(when.get("condition"), scope)
            self.target_names(when.get("targetList"), rel, scope)
            if (
                when.get("commandType") == "CMD_INSERT"
                and not when.get("targetList")
                and when.get("values")
            ):
                self.add(rel.loc, rel.all_columns(), "writes", "INSERT without a column list")
            self.walk(when.get("values"), scope)
        self.returning(body, scope)

    def copy(self, body: dict[str, Any], parent: _Scope | None, ctes: frozenset[str]) -> None:
        query = body.get("query")
        if query is not None:
            tag, inner = _unwrap(query)
            self.stmt(tag, inner, parent, ctes)
        relation = body.get("relation")
        if not isinstance(relation, dict):
            return
        verb = "writes" if body.get("is_from") else "reads"
        rel = self.range_var(relation, _Scope(parent, ctes), verb)
        attlist = body.get("attlist") or ()
        for name in attlist:
            self.add(rel.loc, rel.columns(str(_unwrap(name)[1].get("sval", ""))), verb)
        if not attlist:
            self.add(rel.loc, rel.all_columns(), verb, "COPY without a column list")

    # expressions

    def walk(self, node: Any, scope: _Scope, skip: frozenset[str] = frozenset()) -> None:
        if isinstance(node, list):
            for item in node:
                self.walk(item, scope, skip)
            return
        if not isinstance(node, dict):
            return
        tag, body = _unwrap(node)
        if tag == "ColumnRef":
            self.column_ref(body, scope, skip)
        elif tag in _DATA_STMTS:
            self.stmt(tag, body, scope, scope.ctes)
        elif tag != "RangeVar":
            for value in body.values():
                if isinstance(value, (dict, list)):
                    self.walk(value, scope, skip)

    def column_ref(self, body: dict[str, Any], scope: _Scope, skip: frozenset[str]) -> None:
        loc = _loc(body, 0)
        parts: list[str | None] = []
        for f in body.get("fields", ()):
            tag, value = _unwrap(f)
            parts.append(None if tag == "A_Star" else str(value.get("sval", "")))
        if len(parts) > 3:
            parts = parts[-3:]
        if parts == [None]:
            for rel in scope.rels:
                self.add(loc, rel.all_columns(), "reads", "via *")
        elif len(parts) == 1:
            name = parts[0]
            if name is None or name in skip:
                return
            level: _Scope | None = scope
            while level is not None:
                hits = [(rel, rel.columns(name)) for rel in level.rels if rel.columns(name)]
                for _, objs in hits:
                    self.add(loc, objs, "reads")
                if hits:
                    return
                for rel in level.rels:
                    if rel.name == name and rel.objects:
                        self.add(loc, rel.all_columns(), "reads", f"whole-row reference {name}")
                        return
                level = level.parent
        elif len(parts) == 2:
            named = self.find_rel(scope, lambda r: r.name == parts[0])
            if named is not None:
                col = parts[1]
                self.add(
                    loc,
                    named.all_columns() if col is None else named.columns(col),
                    "reads",
                    f"via {parts[0]}.*" if col is None else "",
                )
        else:
            schema, table, col = parts
            named = self.find_rel(scope, lambda r: not r.aliased and r.relname == table)
            if named is not None:
                objs = named.all_columns() if col is None else named.columns(col)
                self.add(loc, [o for o in objs if o.schema == schema], "reads")

    @staticmethod
    def find_rel(scope: _Scope, pred: Callable[[_Rel], bool]) -> _Rel | None:
        level: _Scope | None = scope
        while level is not None:
            for rel in level.rels:
                if pred(rel):
                    return rel
            level = level.parent
        return None


# ------------------------------------------------------------------- strings in Python code

_HOLE = "\ue000"  # stands for an f-string {...} while the text is prepared
_SQL_WORD = re.compile(
    r"\b(?:select|insert|update|delete|merge|copy|with|values|table|explain|prepare|declare)\b",
    re.IGNORECASE,
)
_PYFORMAT = re.compile(r"%%|%(?:\([^)]*\))?[sbt]")
_NAMED = re.compile(r"(?<![:\w]):[A-Za-z_]\w*")
_FORMAT_FIELD = re.compile(r"\{[A-Za-z0-9_]*(?:![rsa])?(?::[^{}]*)?\}")
_IDENT = "zdm_hole"


def _prepare(text: str, mode: int) -> str:
    """The text as PostgreSQL would see it: driver placeholders (``%s``, ``%(name)s``,
    ``:name``) become ``$1``; f-string holes become ``$1`` (mode 0) or an identifier
    (mode 1, which also fills ``{}`` format fields); mode 2 only fills holes."""
    if mode == 2:
        return text.replace(_HOLE, "$1")
    text = _PYFORMAT.sub(lambda m: "%" if m.group() == "%%" else "$1", text)
    text = _NAMED.sub("$1", text)
    if mode == 1:
        return _FORMAT_FIELD.sub(_IDENT, text).replace(_HOLE, _IDENT)
    return text.replace(_HOLE, "$1")


def _literal_text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            else:
                parts.append(_HOLE)
        return "".join(parts)
    return None


def _parse_sql(text: str) -> tuple[list[tuple[str, dict[str, Any]]], str] | None:
    """The data statements of ``text`` and the prepared text pglast parsed, or None."""
    for mode in (0, 1, 2):
        sql = _prepare(text, mode)
        try:
            tree = json.loads(parse_sql_json(sql))
        except (ParseError, ValueError):
            continue
        stmts = [_unwrap(s.get("stmt")) for s in tree.get("stmts", ())]
        data = [(tag, body) for tag, body in stmts if _is_data_stmt(tag, body)]
        return (data, sql) if data else None
    return None


class _Lines:
    """Maps byte offsets in the parsed text to source lines."""

    def __init__(self, node: ast.expr, source: str, sql: str, mode_text: str) -> None:
        self.start = node.lineno
        self.end = node.end_lineno or node.lineno
        self.data = sql.encode()
        self.starts: list[int] = []
        self.pieces: list[tuple[bytes, int, int]] = []
        pieces = _pieces(node, source)
        if pieces is None:
            return
        mode = next((m for m in (0, 1, 2) if _prepare(mode_text, m) == sql), 0)
        prepared = [(_prepare(text, mode).encode(), a, b) for text, a, b in pieces]
        if b"".join(p for p, _, _ in prepared) != self.data:
            return
        offset = 0
        for data, a, b in prepared:
            self.starts.append(offset)
            self.pieces.append((data, a, b))
            offset += len(data)

    def line(self, loc: int) -> int:
        if self.pieces:
            i = max(bisect.bisect_right(self.starts, loc) - 1, 0)
            data, first, last = self.pieces[i]
            return min(first + data[: loc - self.starts[i]].count(b"\n"), last)
        return min(self.start + self.data[:loc].count(b"\n"), self.end)


def _pieces(node: ast.expr, source: str) -> list[tuple[str, int, int]] | None:
    """The literals an (implicitly concatenated) string is made of: text, first and last line."""
    segment = ast.get_source_segment(source, node)
    if segment is None:
        return None
    wrapped = "(" + segment + ")"
    line_starts = [0]
    for line in wrapped.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        return line_starts[pos[0] - 1] + pos[1]

    spans: list[tuple[tuple[int, int], tuple[int, int]]] = []
    depth = 0
    begin = (0, 0)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(wrapped).readline):
            kind = tokenize.tok_name[tok.type]
            if tok.type == tokenize.STRING and depth == 0:
                spans.append((tok.start, tok.end))
            elif kind == "FSTRING_START":
                if depth == 0:
                    begin = tok.start
                depth += 1
            elif kind == "FSTRING_END":
                depth -= 1
                if depth == 0:
                    spans.append((begin, tok.end))
    except (tokenize.TokenError, SyntaxError):
        return None
    out = []
    for first, last in spans:
        try:
            literal = ast.parse(wrapped[offset(first) : offset(last)], mode="eval").body
        except (SyntaxError, ValueError):
            return None
        text = _literal_text(literal)
        if text is None:
            return None
        out.append((text, node.lineno + first[0] - 1, node.lineno + last[0] - 1))
    return out or None


def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _string_nodes(tree: ast.Module) -> Iterator[ast.expr]:
    skip = _docstrings(tree)
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.JoinedStr):
            yield node
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    stack.append(value.value)
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _scan_sql(file: str, source: str, tree: ast.Module, targets: _Targets) -> list[CodeEvidence]:
    out = []
    for node in _string_nodes(tree):
        text = _literal_text(node)
        if text is None or not _SQL_WORD.search(text):
            continue
        parsed = _parse_sql(text)
        if parsed is None:
            continue
        stmts, sql = parsed
        analyzer = _Sql(targets)
        for tag, body in stmts:
            analyzer.stmt(tag, body, None, frozenset())
        if not analyzer.found:
            continue
        lines = _Lines(node, source, sql, text)
        for f in analyzer.found:
            note = f" ({f.note})" if f.note else ""
            summary = f"SQL string {f.verb} {_display(f.obj)}{note}"
            out.append(CodeEvidence(file, lines.line(f.loc), f.obj, "sql", summary))
    return out


# ------------------------------------------------------------- SQLAlchemy models, statically


def _call_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id
        if isinstance(node.func, ast.Attribute):
            return node.func.attr
    return None


def _str(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _column_call(node: ast.expr | None, default: str | None) -> tuple[str, int] | None:
    """The column a ``Column(...)``/``mapped_column(...)`` defines, and its line."""
    if not isinstance(node, ast.Call):
        return None
    name = _call_name(node)
    if name in ("Column", "mapped_column"):
        first = _str(node.args[0]) if node.args else None
        column = first or _str(_keyword(node, "name")) or default
        return (column, node.lineno) if column else None
    if name in ("deferred", "column_property") and node.args:
        return _column_call(node.args[0], default)
    return None


def _is_mapped(annotation: ast.expr) -> bool:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value.replace(" ", "").split("[", 1)[0].split(".")[-1] == "Mapped"
    if isinstance(annotation, ast.Subscript):
        value = annotation.value
        return (isinstance(value, ast.Name) and value.id == "Mapped") or (
            isinstance(value, ast.Attribute) and value.attr == "Mapped"
        )
    return False


def _schema_of(node: ast.expr | None) -> str | None:
    """``schema`` of ``__table_args__``: a dict, or a tuple ending with one."""
    if isinstance(node, ast.Tuple) and node.elts:
        node = node.elts[-1]
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if key is not None and _str(key) == "schema":
                return _str(value)
    return None


@dataclass
class _Class:
    name: str
    file: str
    line: int
    bases: list[str]
    tablename: str | None = None
    schema: str | None = None
    columns: list[tuple[str, int]] = field(default_factory=list)


def _class_info(file: str, node: ast.ClassDef) -> _Class:
    bases = []
    for base in node.bases:
        if isinstance(base, ast.Name):
            bases.append(base.id)
        elif isinstance(base, ast.Attribute):
            bases.append(base.attr)
    info = _Class(node.name, file, node.lineno, bases)
    for stmt in node.body:
        value: ast.expr | None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            target, value = stmt.target, stmt.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        attr = target.id
        if attr == "__tablename__":
            info.tablename = _str(value)
        elif attr == "__table_args__":
            info.schema = _schema_of(value)
        elif attr.startswith("__"):
            continue
        elif value is None:
            if isinstance(stmt, ast.AnnAssign) and _is_mapped(stmt.annotation):
                info.columns.append((attr, stmt.lineno))
        elif (column := _column_call(value, attr)) is not None:
            info.columns.append(column)
    return info


def _tables(file: str, tree: ast.Module, targets: _Targets) -> list[CodeEvidence]:
    """``Table("name", metadata, Column("col", ...), ..., schema=...)`` and ``ForeignKey``."""
    labels: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "__table__" for t in stmt.targets
                ):
                    labels[id(stmt.value)] = f"model {node.name}"
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            labels.setdefault(id(node.value), f"Table {node.targets[0].id}")
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name == "Table" and node.args and (table := _str(node.args[0])) is not None:
            objs = targets.match(_str(_keyword(node, "schema")), table)
            if not objs:
                continue
            label = labels.get(id(node), f"Table {table}")
            for obj in objs:
                if obj.column is None:
                    out.append(_model_evidence(file, node.lineno, obj, label))
            for arg in node.args[1:]:
                column = _column_call(arg, None)
                if column is not None:
                    for obj in objs:
                        if obj.column == column[0]:
                            out.append(_model_evidence(file, column[1], obj, label))
        elif name in ("ForeignKey", "ForeignKeyConstraint"):
            refs = node.args[:1] if name == "ForeignKey" else node.args[1:2]
            for ref in refs:
                for item in ref.elts if isinstance(ref, (ast.List, ast.Tuple)) else [ref]:
                    parts = (_str(item) or "").split(".")
                    if len(parts) < 2:
                        continue
                    schema = parts[-3] if len(parts) > 2 else None
                    for obj in targets.match(schema, parts[-2]):
                        if obj.column == parts[-1]:
                            summary = f"SQLAlchemy ForeignKey references {_display(obj)}"
                            out.append(CodeEvidence(file, item.lineno, obj, "model", summary))
    return out


def _model_evidence(
    file: str, line: int, obj: Deprecated, label: str, note: str = ""
) -> CodeEvidence:
    return CodeEvidence(file, line, obj, "model", f"SQLAlchemy {label} maps {_display(obj)}{note}")


class _ClassIndex:
    """Declarative classes of every scanned file, bases resolved by name when unambiguous."""

    def __init__(self, classes: list[_Class]) -> None:
        self.by_name: dict[str, list[_Class]] = {}
        for c in classes:
            self.by_name.setdefault(c.name, []).append(c)

    def base(self, name: str) -> _Class | None:
        found = self.by_name.get(name, [])
        return found[0] if len(found) == 1 else None

    def table_of(
        self, cls: _Class, seen: frozenset[int] = frozenset()
    ) -> tuple[str, str | None] | None:
        """The table a class maps: its own, or (single-table inheritance) a base's."""
        if cls.tablename is not None:
            return cls.tablename, cls.schema
        for name in cls.bases:
            base = self.base(name)
            if base is not None and id(base) not in seen:
                found = self.table_of(base, seen | {id(cls)})
                if found is not None:
                    return found[0], found[1] if cls.schema is None else cls.schema
        return None

    def mixins(self, cls: _Class, seen: frozenset[int] = frozenset()) -> Iterator[_Class]:
        """Bases that map no table (mixins, abstract bases): their columns join ``cls``'s."""
        for name in cls.bases:
            base = self.base(name)
            if base is None or id(base) in seen or self.table_of(base) is not None:
                continue
            yield base
            yield from self.mixins(base, seen | {id(cls)})


def _scan_classes(classes: list[_Class], targets: _Targets) -> list[CodeEvidence]:
    index = _ClassIndex(classes)
    out = []
    for cls in classes:
        table = index.table_of(cls)
        if table is None:
            continue
        objs = targets.match(table[1], table[0])
        label = f"model {cls.name}"
        if cls.tablename is not None:
            for obj in objs:
                if obj.column is None:
                    out.append(_model_evidence(cls.file, cls.line, obj, label))
        sources = [(cls, "")] + [(m, f" (from {m.name})") for m in index.mixins(cls)]
        for source, note in sources:
            for column, line in source.columns:
                for obj in objs:
                    if obj.column == column:
                        out.append(_model_evidence(source.file, line, obj, label, note))
    return out


# ------------------------------------------------------------------------------- scan_paths

_SKIP_DIRS = frozenset(("site-packages", "__pycache__", "node_modules"))


def _skip_dir(path: Path) -> bool:
    return path.name.startswith(".") or path.name in _SKIP_DIRS or (path / "pyvenv.cfg").exists()


def _python_files(paths: list[str]) -> Iterator[Path]:
    def fail(exc: OSError) -> None:
        raise ConfigError(
            f"cannot read folder {exc.filename}: {exc.strerror or exc}",
            "check the path and its permissions",
        )

    for given in paths:
        path = Path(given)
        if path.is_dir():
            for root, dirs, files in os.walk(path, onerror=fail):
                dirs[:] = sorted(d for d in dirs if not _skip_dir(Path(root) / d))
                for name in sorted(files):
                    if name.endswith(".py"):
                        yield Path(root) / name
        elif path.exists():
            yield path
        else:
            raise ConfigError(
                f"no such file or folder: {given}",
                "pass the folders or files of the application's source code",
            )


def _read(path: Path) -> tuple[str, ast.Module] | None:
    """Source and syntax tree; None for a file Python could not compile either."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror or exc}", "check the path and its permissions"
        ) from exc
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        source = data.decode(encoding)
        return source, ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError, LookupError, RecursionError):
        return None


def _finish(evidence: Iterable[CodeEvidence]) -> list[CodeEvidence]:
    """At most one evidence per file, line, object and kind (the first found), sorted."""
    unique: dict[tuple[str, int, Deprecated, str], CodeEvidence] = {}
    for e in evidence:
        unique.setdefault((e.file, e.line, e.object, e.kind), e)
    return sorted(
        unique.values(),
        key=lambda e: (
            e.file,
            e.line,
            e.object.schema,
            e.object.table,
            e.object.column or "",
            e.kind,
        ),
    )


def _static_models(
    files: list[tuple[str, str, ast.Module]], targets: _Targets
) -> list[CodeEvidence]:
    classes = []
    out = []
    for file, _, tree in files:
        classes += [_class_info(file, n) for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
        out += _tables(file, tree, targets)
    return out + _scan_classes(classes, targets)


def scan_paths(paths: list[str], deprecated: set[Deprecated]) -> list[CodeEvidence]:
    """Evidence in the Python files under ``paths`` (folders recursively, ``*.py``; virtual
    environments, ``site-packages``, ``__pycache__`` and hidden folders are skipped)."""
    targets = _Targets(deprecated)
    files = []
    seen = set()
    for path in _python_files(paths):
        key = os.path.realpath(path)
        if key in seen:
            continue
        seen.add(key)
        read = _read(path)
        if read is not None:
            files.append((str(path), read[0], read[1]))
    if not deprecated:
        return []
    out = _static_models(files, targets)
    for file, source, tree in files:
        out += _scan_sql(file, source, tree, targets)
    return _finish(out)


# ------------------------------------------------------------------------------ scan_models


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_MODELS_HINT = (
    "give the models as package.module:attribute, naming a SQLAlchemy MetaData, "
    "declarative base or registry, importable from the current folder"
)


def _resolve(spec: str) -> tuple[Any, Any]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name.strip() or not attr.strip():
        raise ConfigError(f"models spec '{spec}' is not package.module:attribute", _MODELS_HINT)
    saved = list(sys.path)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        importlib.invalidate_caches()
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(
            f"cannot import {module_name} for models spec '{spec}': {_one_line(exc)}", _MODELS_HINT
        ) from exc
    finally:
        sys.path[:] = saved
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                f"module {module_name} has no attribute {attr} (models spec '{spec}')", _MODELS_HINT
            ) from None
    return module, obj


def _source_line(cls: type[Any]) -> tuple[str | None, int, int]:
    """File, first and last line of a class, as far as inspect can tell."""
    try:
        file = inspect.getsourcefile(cls)
        lines, first = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return None, 0, 0
    return file, first, first + len(lines) - 1


def scan_models(spec: str, deprecated: set[Deprecated]) -> list[CodeEvidence]:
    """Evidence in the tables of the models named by ``spec`` ("package.module:attribute")."""
    module, obj = _resolve(spec)
    reg: registry | None = None
    if isinstance(obj, MetaData):
        metadata = obj
    elif isinstance(obj, registry):
        metadata, reg = obj.metadata, obj
    elif isinstance(getattr(obj, "metadata", None), MetaData):
        metadata = obj.metadata
        found = getattr(obj, "registry", None)
        reg = found if isinstance(found, registry) else None
    else:
        raise ConfigError(
            f"models spec '{spec}' names {' '.join(repr(obj).split())[:60]}, not a SQLAlchemy "
            "MetaData, declarative base or registry",
            _MODELS_HINT,
        )
    owners: dict[int, type[Any]] = {}
    if reg is not None:
        for mapper in sorted(reg.mappers, key=lambda m: m.class_.__qualname__):
            local = mapper.local_table
            inherited = mapper.inherits is not None and mapper.inherits.local_table is local
            if isinstance(local, Table) and not inherited:
                owners.setdefault(id(local), mapper.class_)
    module_file = getattr(module, "__file__", None) or f"<{module.__name__}>"
    targets = _Targets(deprecated)
    static: dict[str, list[CodeEvidence]] = {}

    def statically(file: str) -> list[CodeEvidence]:
        if file not in static:
            try:
                read = _read(Path(file))
            except ConfigError:
                read = None
            static[file] = [] if read is None else _static_models([(file, *read)], targets)
        return static[file]

    out = []
    for table in sorted(metadata.tables.values(), key=lambda t: t.fullname):
        names = {c.name for c in table.columns}
        objs = [
            o
            for o in targets.match(table.schema, table.name)
            if o.column in names or o.column is None
        ]
        if not objs:
            continue
        cls = owners.get(id(table))
        file, first, last = _source_line(cls) if cls is not None else (None, 0, 0)
        file = file or module_file
        label = f"model {cls.__name__}" if cls is not None else f"Table {table.name}"
        for o in objs:
            line = first
            candidates = [e.line for e in statically(file) if e.object == o and e.file == file]
            inside = (
                [n for n in candidates if first <= n <= last] if cls is not None else candidates
            )
            if inside or candidates:  # a mixin's column is outside the class
                line = (inside or candidates)[0]
            out.append(_model_evidence(file, line, o, label))
    return _finish(out)
