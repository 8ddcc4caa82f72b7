"""Whether one SQL statement still reads or writes an object contract removes.

The contract gate reads statement texts from ``pg_stat_statements`` and asks,
for each, ``uses(sql, schemas, search_path, deprecated)``: the deprecated
columns and tables the statement reads or writes, resolved as PostgreSQL's
parser would resolve them. Nothing here does I/O: the statement is parsed with
pglast (the real PostgreSQL parser) and its names are looked up in the schema
model.

How names resolve:

- a relation is looked up in ``schemas`` (qualified, or along ``search_path``);
  CTE names shadow tables; a view in ``views`` reads what its definition reads;
  anything else (a version schema's view, ``pg_catalog``, an unknown name) is
  a relation zdmigrate does not model and is never evidence;
- a column reference is resolved against the FROM items in scope, innermost
  query level first, through aliases, ``schema.table.column`` and unqualified
  names (several candidates at one level: every one of them counts);
- ``*``, ``t.*``, whole-row references, ``RETURNING *``, ``COPY t`` and an
  INSERT without a column list read or write every column of the table.

A deprecated table (``column=None``) is used by any statement that names it.
Texts that do not parse, and statements that name no relation, use nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError

from zdmigrate.model.schema import Catalog
from zdmigrate.model.step import Deprecated

__all__ = ["Deprecated", "Use", "uses"]


@dataclass(frozen=True)
class Use:
    """A statement reads or writes a deprecated object, and why that is so."""

    object: Deprecated
    how: str
    why: str


def uses(
    sql: str,
    schemas: dict[str, Catalog],
    search_path: list[str],
    deprecated: set[Deprecated],
    views: dict[tuple[str, str], str] | None = None,
) -> list[Use]:
    """The deprecated objects ``sql`` reads or writes, one ``Use`` per object and kind.

    Sorted by schema, table, column and kind. Never raises: a text that does not
    parse uses nothing; should the analysis itself fail on an unforeseen statement
    shape, what it found until then is returned.
    """
    try:
        statements = parse_sql(sql)
    except ParseError:
        return []
    walker = _Walker(_Context(schemas, search_path, frozenset(deprecated), views or {}))
    try:
        for raw in statements:
            walker.statement(raw.stmt, _Env())
    except Exception:  # never raise: evidence found so far still counts
        pass
    return walker.result()


# The analysis


@dataclass(frozen=True)
class _Context:
    schemas: Mapping[str, Catalog]
    search_path: list[str]
    deprecated: frozenset[Deprecated]
    views: Mapping[tuple[str, str], str]


@dataclass(frozen=True)
class _Source:
    """One FROM item as a query level sees it.

    ``columns`` are the names it exposes (None: unknown); ``real`` maps an exposed
    name to the table's column where an alias renamed it; ``table`` is set for a
    table of the schema model. ``named``: a qualified reference can reach it by
    ``refname`` (or ``qualified``, ``schema.table``); ``unqualified``: its columns
    answer unqualified references and ``*``. A join with an alias has ``children``.
    """

    refname: str | None
    columns: tuple[str, ...] | None
    table: tuple[str, str] | None = None
    real: Mapping[str, str] = field(default_factory=dict)
    qualified: tuple[str, str] | None = None
    named: bool = True
    unqualified: bool = True
    children: tuple[_Source, ...] = ()


_Level = tuple[_Source, ...]
_Ctes = Mapping[str, tuple[str, ...] | None]


@dataclass(frozen=True)
class _Env:
    """The query levels in scope (outermost first) and the CTE names visible."""

    levels: tuple[_Level, ...] = ()
    ctes: _Ctes = field(default_factory=dict)

    def enter(self, level: Iterable[_Source]) -> _Env:
        return replace(self, levels=(*self.levels, tuple(level)))

    def with_ctes(self, ctes: _Ctes) -> _Env:
        return replace(self, ctes=ctes)


_MODIFYING = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)
_QUERIES = (ast.SelectStmt, *_MODIFYING)
_WRAPPERS = (
    ast.PrepareStmt,
    ast.ExplainStmt,
    ast.CreateTableAsStmt,
    ast.ViewStmt,
    ast.DeclareCursorStmt,
)


def _strings(nodes: tuple[Any, ...] | None) -> list[str]:
    return [n.sval or "" for n in nodes or () if isinstance(n, ast.String)]


def _alias_columns(alias: ast.Alias | None) -> list[str]:
    return _strings(alias.colnames) if alias is not None else []


def _renamed(columns: tuple[str, ...] | None, names: list[str]) -> tuple[str, ...] | None:
    """``columns`` as an alias's column list renames them (the first ones, in order)."""
    if not names:
        return columns
    if columns is None:
        return tuple(names)
    return (*names, *columns[len(names) :])


def _returning(stmt: ast.Node) -> tuple[Any, ...]:
    """The RETURNING targets, as pglast of any supported version holds them."""
    clause = getattr(stmt, "returningClause", None)
    if clause is not None:
        exprs: tuple[Any, ...] = clause.exprs or ()
        return exprs
    return getattr(stmt, "returningList", None) or ()


def _figure_name(node: ast.Node | None) -> str:
    """The output column name PostgreSQL gives an unnamed target expression."""
    if isinstance(node, ast.ColumnRef):
        names = _strings(node.fields)
        return names[-1] if names else "?column?"
    if isinstance(node, ast.FuncCall):
        return _strings(node.funcname)[-1]
    if isinstance(node, ast.TypeCast):
        return _figure_name(node.arg)
    if isinstance(node, ast.A_Indirection):
        names = _strings(node.indirection)
        return names[-1] if names else "?column?"
    return "?column?"


def _level_leaves(level: Iterable[_Source]) -> list[_Source]:
    """The sources of a level whose columns answer unqualified references and ``*``."""
    return [s for s in level if s.unqualified and not s.children]


def _expand(src: _Source) -> list[_Source]:
    """The tables (or other leaves) a source stands for: a join alias, its joined ones."""
    if not src.children:
        return [src]
    return [c for c in src.children if not c.children]


def _has(src: _Source, column: str) -> bool:
    return src.columns is not None and column in src.columns


class _Walker:
    """Walks one statement (or view definition), collecting its uses."""

    def __init__(self, ctx: _Context, views_open: tuple[tuple[str, str], ...] = ()) -> None:
        self.ctx = ctx
        self.views_open = views_open
        self.found: dict[tuple[Deprecated, str], str] = {}

    def result(self) -> list[Use]:
        def key(item: tuple[tuple[Deprecated, str], str]) -> tuple[str, str, str, str]:
            (dep, how), _ = item
            return (dep.schema, dep.table, dep.column or "", how)

        return [Use(dep, how, why) for (dep, how), why in sorted(self.found.items(), key=key)]

    def emit(self, dep: Deprecated, how: str, why: str) -> None:
        if dep in self.ctx.deprecated:
            self.found.setdefault((dep, how), why)

    # Statements: each returns the names of the columns it outputs (None: unknown)

    def statement(self, node: ast.Node | None, env: _Env) -> tuple[str, ...] | None:
        if isinstance(node, ast.SelectStmt):
            return self.select(node, env)
        if isinstance(node, ast.InsertStmt):
            return self.insert(node, env)
        if isinstance(node, ast.UpdateStmt):
            return self.update(node, env)
        if isinstance(node, ast.DeleteStmt):
            return self.delete(node, env)
        if isinstance(node, ast.MergeStmt):
            return self.merge(node, env)
        if isinstance(node, ast.CopyStmt):
            self.copy(node)
        elif isinstance(node, ast.TruncateStmt):
            for rv in node.relations or ():
                self.relation(rv, env, "writes", "TRUNCATE")
        elif isinstance(node, _WRAPPERS):
            return self.statement(node.query, env)
        return None

    def with_clause(self, clause: ast.WithClause | None, env: _Env) -> _Env:
        """``env`` with the CTEs of ``clause`` visible (each sees those before it)."""
        if clause is None:
            return env
        ctes = dict(env.ctes)
        for cte in clause.ctes or ():
            names = _strings(cte.aliascolnames)
            if clause.recursive:
                ctes[cte.ctename] = tuple(names) if names else None
            columns = self.statement(cte.ctequery, env.with_ctes(dict(ctes)))
            ctes[cte.ctename] = _renamed(columns, names)
        return env.with_ctes(ctes)

    def select(self, stmt: ast.SelectStmt, env: _Env) -> tuple[str, ...] | None:
        env = self.with_clause(stmt.withClause, env)
        if stmt.larg is not None and stmt.rarg is not None:
            columns = self.select(stmt.larg, env)
            self.select(stmt.rarg, env)
            self.expr((stmt.sortClause, stmt.limitCount, stmt.limitOffset), env.enter(()), "")
            return columns
        if stmt.valuesLists:
            self.expr(stmt.valuesLists, env.enter(()), "VALUES")
            return tuple(f"column{i + 1}" for i in range(len(stmt.valuesLists[0])))
        level = self.from_list(stmt.fromClause, env, "FROM")
        inner = env.enter(level)
        self.expr(stmt.targetList, inner, "SELECT")
        clauses = (stmt.whereClause, stmt.groupClause, stmt.havingClause, stmt.windowClause)
        self.expr(clauses, inner, "")
        self.expr((stmt.sortClause, stmt.distinctClause), inner, "")
        self.expr((stmt.limitCount, stmt.limitOffset), inner, "")
        return self.output(stmt.targetList, level)

    def insert(self, stmt: ast.InsertStmt, env: _Env) -> tuple[str, ...] | None:
        env = self.with_clause(stmt.withClause, env)
        target = self.relation(stmt.relation, env, "writes", "INSERT INTO")
        self.statement(stmt.selectStmt, env)
        columns = [rt.name for rt in stmt.cols or ()]
        for column in columns:
            self.write(target, column, "INSERT column list names it")
        if not columns and stmt.selectStmt is not None:
            self.write_all(target, "INSERT without a column list")
        self.on_conflict(stmt.onConflictClause, target, env)
        return self.returning(stmt, env.enter((target,)))

    def on_conflict(self, clause: ast.OnConflictClause | None, target: _Source, env: _Env) -> None:
        if clause is None:
            return
        infer = clause.infer
        if infer is not None:
            for elem in infer.indexElems or ():
                if elem.name:
                    self.read(target, elem.name, "ON CONFLICT target names it")
                self.expr(elem.expr, env.enter((target,)), "")
            self.expr(infer.whereClause, env.enter((target,)), "")
        excluded = replace(target, refname="excluded", qualified=None, unqualified=False)
        inner = env.enter((target, excluded))
        for rt in clause.targetList or ():
            self.write(target, rt.name, "ON CONFLICT DO UPDATE SET assigns it")
            self.expr((rt.val, rt.indirection), inner, "")
        self.expr(clause.whereClause, inner, "")

    def update(self, stmt: ast.UpdateStmt, env: _Env) -> tuple[str, ...] | None:
        env = self.with_clause(stmt.withClause, env)
        target = self.relation(stmt.relation, env, "writes", "UPDATE")
        inner = env.enter((target, *self.from_list(stmt.fromClause, env, "UPDATE ... FROM")))
        for rt in stmt.targetList or ():
            self.write(target, rt.name, "UPDATE SET assigns it")
            self.expr((rt.val, rt.indirection), inner, "")
        self.expr(stmt.whereClause, inner, "")
        return self.returning(stmt, inner)

    def delete(self, stmt: ast.DeleteStmt, env: _Env) -> tuple[str, ...] | None:
        env = self.with_clause(stmt.withClause, env)
        target = self.relation(stmt.relation, env, "writes", "DELETE FROM")
        inner = env.enter((target, *self.from_list(stmt.usingClause, env, "DELETE ... USING")))
        self.expr(stmt.whereClause, inner, "")
        return self.returning(stmt, inner)

    def merge(self, stmt: ast.MergeStmt, env: _Env) -> tuple[str, ...] | None:
        env = self.with_clause(stmt.withClause, env)
        target = self.relation(stmt.relation, env, "writes", "MERGE INTO")
        inner = env.enter((target, *self.from_item(stmt.sourceRelation, env, (), "USING")))
        self.expr(stmt.joinCondition, inner, "")
        for when in stmt.mergeWhenClauses or ():
            self.merge_action(when, target, inner)
        return self.returning(stmt, inner)

    def merge_action(self, when: ast.MergeWhenClause, target: _Source, inner: _Env) -> None:
        self.expr(when.condition, inner, "")
        columns = [rt.name for rt in when.targetList or ()]
        for rt in when.targetList or ():
            self.write(target, rt.name, "MERGE ... SET assigns it")
            self.expr((rt.val, rt.indirection), inner, "")
        if when.commandType == enums.CmdType.CMD_INSERT:
            if not columns and when.values:
                self.write_all(target, "MERGE INSERT without a column list")
            self.expr(when.values, inner, "")

    def copy(self, stmt: ast.CopyStmt) -> None:
        if stmt.query is not None:
            self.statement(stmt.query, _Env())
        if stmt.relation is None:
            return
        how = "writes" if stmt.is_from else "reads"
        target = self.relation(stmt.relation, _Env(), how, "COPY")
        columns = _strings(stmt.attlist)
        for column in columns:
            self.touch(target, column, how, "COPY column list names it")
        if not columns:
            for leaf, column in self.every_column(target):
                self.touch(leaf, column, how, f"COPY without a column list {how} every column")
        self.expr(stmt.whereClause, _Env().enter((target,)), "")

    def returning(self, stmt: ast.Node, inner: _Env) -> tuple[str, ...] | None:
        targets = _returning(stmt)
        self.expr(targets, inner, "RETURNING")
        return self.output(targets, inner.levels[-1]) if targets else None

    def output(self, targets: tuple[Any, ...] | None, level: _Level) -> tuple[str, ...] | None:
        """The output column names of a target list over ``level`` (None: unknown)."""
        names: list[str] = []
        for rt in targets or ():
            star = self.star_sources(rt.val, level) if rt.name is None else None
            if star is None:
                names.append(rt.name or _figure_name(rt.val))
                continue
            for src in star:
                if src.columns is None:
                    return None
                names.extend(src.columns)
        return tuple(names)

    def star_sources(self, node: ast.Node | None, level: _Level) -> list[_Source] | None:
        """The sources a ``*`` or ``t.*`` target expands (None: not a star)."""
        if not isinstance(node, ast.ColumnRef) or not isinstance(
            (node.fields or ())[-1], ast.A_Star
        ):
            return None
        qualifier = tuple(_strings(node.fields))
        if not qualifier:
            return _level_leaves(level)
        env = _Env().enter(level)
        found = [s for q in _star_qualifiers(qualifier) if (s := self.find_source(q, env))]
        return _expand(found[0]) if found else [_Source(None, None)]

    # FROM items

    def from_list(self, items: tuple[Any, ...] | None, env: _Env, label: str) -> _Level:
        level: list[_Source] = []
        for item in items or ():
            level.extend(self.from_item(item, env, tuple(level), label))
        return tuple(level)

    def from_item(self, item: ast.Node | None, env: _Env, siblings: _Level, label: str) -> _Level:
        """The sources of one FROM item; ``siblings`` are those before it (for LATERAL)."""
        if item is None:
            return ()
        if isinstance(item, ast.RangeVar):
            return (self.relation(item, env, "reads", label),)
        if isinstance(item, ast.JoinExpr):
            return self.join(item, env, siblings, label)
        if isinstance(item, ast.RangeSubselect):
            outer = env.enter(siblings) if item.lateral else env
            columns = self.statement(item.subquery, outer)
            name = item.alias.aliasname if item.alias is not None else None
            return (_Source(name, _renamed(columns, _alias_columns(item.alias))),)
        if isinstance(item, ast.RangeTableSample):
            sources = self.from_item(item.relation, env, siblings, label)
            self.expr((item.args, item.repeatable), env.enter(siblings), "")
            return sources
        alias = getattr(item, "alias", None)
        self.expr(item, env.enter(siblings), "")
        renames = _alias_columns(alias)
        name = alias.aliasname if alias is not None else None
        return (_Source(name, tuple(renames) if renames else None),)

    def join(self, item: ast.JoinExpr, env: _Env, siblings: _Level, label: str) -> _Level:
        left = self.from_item(item.larg, env, siblings, label)
        right = self.from_item(item.rarg, env, (*siblings, *left), label)
        self.expr(item.quals, env.enter((*left, *right)), "")
        merged, kind = _strings(item.usingClause), "JOIN USING"
        if item.isNatural:
            shared = {c for s in _level_leaves(left) for c in s.columns or ()}
            merged = [c for s in _level_leaves(right) for c in s.columns or () if c in shared]
            kind = "NATURAL JOIN"
        for column in merged:
            for src in _level_leaves((*left, *right)):
                self.read(src, column, f"{kind} joins on {column}")
        if item.alias is None:
            return (*left, *right)
        hidden = tuple(replace(s, named=False) for s in (*left, *right))
        return (*hidden, _Source(item.alias.aliasname, None, unqualified=False, children=hidden))

    def relation(self, rv: ast.RangeVar | None, env: _Env, how: str, label: str) -> _Source:
        """The source a relation name stands for (a CTE, table, view or unknown)."""
        if rv is None:
            return _Source(None, None)
        name = rv.relname or ""
        alias = rv.alias.aliasname if rv.alias is not None else None
        renames = _alias_columns(rv.alias)
        if rv.schemaname is None and name in env.ctes:
            return _Source(alias or name, _renamed(env.ctes[name], renames))
        schema, kind = self.resolve(rv.schemaname, name)
        qualified = (schema, name) if schema is not None and alias is None else None
        columns: tuple[str, ...] | None = None
        if kind == "table" and schema is not None:
            self.emit(Deprecated(schema, name, None), how, f"{label} names the table")
            columns = self.table_columns(schema, name)
        elif kind == "view" and schema is not None:
            columns = self.view(schema, name)
        visible = _renamed(columns, renames)
        real = dict(zip(renames, columns or (), strict=False))
        table = (schema, name) if kind == "table" and schema is not None else None
        return _Source(alias or name, visible, table, real, qualified)

    def resolve(self, schema: str | None, name: str) -> tuple[str | None, str]:
        """The schema a relation name resolves to and whether a table or view is there."""
        for candidate in [schema] if schema is not None else self.ctx.search_path:
            if self.has_table(candidate, name):
                return candidate, "table"
            if (candidate, name) in self.ctx.views:
                return candidate, "view"
        return None, "unknown"

    def has_table(self, schema: str, name: str) -> bool:
        catalog = self.ctx.schemas.get(schema)
        if catalog is None:
            return False
        return catalog.table(name) is not None or any(
            d.schema == schema and d.table == name for d in self.ctx.deprecated
        )

    def table_columns(self, schema: str, name: str) -> tuple[str, ...]:
        """The table's columns in order, and any deprecated one the model lacks."""
        table = self.ctx.schemas[schema].table(name)
        columns = [c.name for c in table.columns] if table is not None else []
        extra = sorted(
            d.column
            for d in self.ctx.deprecated
            if d.schema == schema and d.table == name and d.column and d.column not in columns
        )
        return (*columns, *extra)

    def view(self, schema: str, name: str) -> tuple[str, ...] | None:
        """What the view's definition reads counts as read; its output columns."""
        key = (schema, name)
        if key in self.views_open:
            return None
        try:
            statements = parse_sql(self.ctx.views[key])
        except ParseError:
            return None
        if len(statements) != 1:
            return None
        inner = _Walker(self.ctx, (*self.views_open, key))
        columns = inner.statement(statements[0].stmt, _Env())
        for (dep, _), why in inner.found.items():
            self.emit(dep, "reads", f"through view {schema}.{name}: {why}")
        return columns

    # Expressions

    def expr(self, node: Any, env: _Env, clause: str) -> None:
        """Every column reference and subquery in ``node`` (iteratively: deep trees are fine)."""
        stack: list[Any] = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, (list, tuple)):
                stack.extend(reversed(item))
            elif isinstance(item, ast.ColumnRef):
                self.column_ref(item, env, clause)
            elif isinstance(item, ast.A_Indirection) and self.row_field(item, env):
                self.expr(item.indirection, env, clause)
            elif isinstance(item, _QUERIES):
                self.statement(item, env)
            elif isinstance(item, ast.Node) and not isinstance(item, ast.RangeVar):
                stack.extend(getattr(item, attr) for attr in reversed(list(item)))

    def column_ref(self, ref: ast.ColumnRef, env: _Env, clause: str) -> None:
        fields = ref.fields or ()
        names = _strings(fields)
        text = ".".join([*names, "*"] if isinstance(fields[-1], ast.A_Star) else names)
        if isinstance(fields[-1], ast.A_Star):
            self.star(tuple(names), env, f"{clause} {text} reads every column".strip())
        elif len(names) == 1:
            self.unqualified(names[0], env)
        else:
            for qualifier, column in _qualifications(names):
                src = self.find_source(qualifier, env)
                if src is not None:
                    self.read(src, column, f"column reference {text}")
                    return

    def row_field(self, node: ast.A_Indirection, env: _Env) -> bool:
        """``(t).column``, a field of a whole-row reference: a read of that column only."""
        arg = node.arg.fields or () if isinstance(node.arg, ast.ColumnRef) else ()
        names, fields = _strings(arg), node.indirection or ()
        if len(names) != 1 or len(arg) != 1 or not fields:
            return False
        if not isinstance(fields[0], ast.String) or self.column_level(names[0], env):
            return False
        src = self.find_source((names[0],), env)
        if src is not None:
            self.read(src, fields[0].sval or "", f"field reference ({names[0]}).{fields[0].sval}")
        return src is not None

    def column_level(self, column: str, env: _Env) -> list[_Source]:
        """The sources of the innermost level that has a column so named."""
        for level in reversed(env.levels):
            hits = [s for s in _level_leaves(level) if _has(s, column)]
            if hits:
                return hits
        return []

    def star(self, qualifier: tuple[str, ...], env: _Env, why: str) -> None:
        if not qualifier:
            sources = _level_leaves(env.levels[-1]) if env.levels else []
        else:
            src = next(
                (s for q in _star_qualifiers(qualifier) if (s := self.find_source(q, env))), None
            )
            sources = [src] if src is not None else []
        for src in sources:
            for leaf, column in self.every_column(src):
                self.read(leaf, column, why)

    def unqualified(self, column: str, env: _Env) -> None:
        """An unqualified name: a column of the innermost level that has it, else a row."""
        hits = self.column_level(column, env)
        why = f"column reference {column}"
        if len(hits) > 1:
            why = f"ambiguous column reference {column}"
        for src in hits:
            self.read(src, column, why)
        if hits:
            return
        row = self.find_source((column,), env)
        if row is not None:
            for leaf, name in self.every_column(row):
                self.read(leaf, name, f"whole-row reference {column} reads every column")

    def find_source(self, qualifier: tuple[str, ...], env: _Env) -> _Source | None:
        """The source ``rel`` or ``schema.rel`` names, innermost level first."""
        for level in reversed(env.levels):
            for src in level:
                if not src.named:
                    continue
                if len(qualifier) == 1 and src.refname == qualifier[0]:
                    return src
                if len(qualifier) == 2 and src.qualified == qualifier:
                    return src
        return None

    def every_column(self, src: _Source) -> Iterator[tuple[_Source, str]]:
        for leaf in _expand(src):
            for column in leaf.columns or ():
                yield leaf, column

    # Reads and writes of one column

    def read(self, src: _Source, column: str, why: str) -> None:
        if src.children:
            for leaf in _expand(src):
                self.read(leaf, column, why)
        elif _has(src, column):
            self.touch(src, column, "reads", why)

    def touch(self, src: _Source, column: str, how: str, why: str) -> None:
        if src.table is not None:
            schema, table = src.table
            self.emit(Deprecated(schema, table, src.real.get(column, column)), how, why)

    def write(self, target: _Source, column: str | None, why: str) -> None:
        if column:
            self.touch(target, column, "writes", why)

    def write_all(self, target: _Source, why: str) -> None:
        for column in target.columns or ():
            self.touch(target, column, "writes", why)


def _qualifications(names: list[str]) -> list[tuple[tuple[str, ...], str]]:
    """The (relation, column) readings of a qualified name, in PostgreSQL's order."""
    if len(names) == 2:
        return [((names[0],), names[1])]
    if len(names) == 3:  # schema.table.column, else table.column.field
        return [((names[0], names[1]), names[2]), ((names[0],), names[1])]
    if len(names) == 4:  # database.schema.table.column
        return [((names[1], names[2]), names[3])]
    return []


def _star_qualifiers(names: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The relation ``rel.*``, ``schema.rel.*`` or ``db.schema.rel.*`` names."""
    return [names] if len(names) <= 2 else [names[-2:]]
