"""Read the schema model from ``pg_dump --schema-only`` output (plain format).

The result is what ``engine.introspect`` reads from the server the dump came
from: types as ``format_type`` spells them, defaults and checks as
``pg_get_expr`` writes them, foreign keys as ``pg_get_constraintdef`` does. pg_dump
writes those very texts, so they are cut out of the dump as written rather than
printed again from the parse tree. pg_dump runs with an empty ``search_path`` and
qualifies every name; the server prints names of a schema on the search path
bare, so names in ``schema`` lose their qualification here (the text is what
introspection gives with ``search_path`` set to ``schema``, the usual case for
``public``).

Only tables (plain and partitioned, partitions included) are kept; sequences,
views, functions, triggers, comments, ownership, grants and settings are read
past.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType, RoleSpecType
from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS
from pglast.parser import ParseError, Token, parse_sql, scan

from zdmigrate.errors import SpecError
from zdmigrate.model.schema import Catalog, Column, ForeignKey, Grant, IndexInfo, Table

__all__ = ["parse_dump"]

_Key = tuple[str, str]  # (schema, table)

_HINT = (
    "give the plain-format output of pg_dump --schema-only "
    "(pg_dump --schema-only -f schema.sql DBNAME)"
)
_META = re.compile(r"^\\(?:restrict|unrestrict|connect|c|encoding)\b.*$", re.MULTILINE)
_VERSION = re.compile(r"^-- Dumped from database version (\d+)", re.MULTILINE)
_SAFE_IDENT = re.compile(r"[a-z_][a-z0-9_]*\Z")
_QUOTED_KEYWORDS = RESERVED_KEYWORDS | COL_NAME_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS
_REG_TYPES = {"regclass", "regtype", "regproc", "regprocedure", "regconfig", "regcollation"}
_SERIALS = {"smallserial": "smallint", "serial": "integer", "bigserial": "bigint"}
_SERIALS.update({"serial2": "smallint", "serial4": "integer", "serial8": "bigint"})
_FK_ACTIONS = {"r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_OPEN, _CLOSE = {"ASCII_40", "ASCII_91"}, {"ASCII_41", "ASCII_93"}
_COMMA, _DOT, _SEMICOLON = "ASCII_44", "ASCII_46", "ASCII_59"
# ALTER TABLE forms pg_dump never writes and that would change the model.
_UNSUPPORTED = {
    AlterTableType.AT_AddColumn: "ADD COLUMN",
    AlterTableType.AT_DropColumn: "DROP COLUMN",
    AlterTableType.AT_AlterColumnType: "ALTER COLUMN ... TYPE",
}


def parse_dump(text: str, schema: str, path: str = "<dump>") -> Catalog:
    """The tables of ``schema`` in ``text``, the output of ``pg_dump --schema-only``."""
    if text.startswith("PGDMP"):
        raise SpecError(
            f"{path} is a pg_dump archive (custom format), not SQL",
            f"convert it: pg_restore --schema-only -f schema.sql {path}",
            path=path,
        )
    sql = _META.sub("", text)  # psql meta-commands (\restrict ...): not SQL
    major = _server_major(text)
    reader = _Reader(sql, schema, path, server_major=major)
    for raw in _statements(sql, path):
        reader.read(raw)
    return reader.catalog(major)


def _statements(sql: str, path: str) -> tuple[ast.RawStmt, ...]:
    try:
        return parse_sql(sql)
    except ParseError as exc:
        message, location = str(exc.args[0]), exc.args[1] if len(exc.args) > 1 else None
        line = sql[: int(location)].count("\n") + 1 if isinstance(location, int) else None
        where = f"{path}:{line}" if line is not None else path
        raise SpecError(
            f"{where}: not pg_dump --schema-only output: {message}", _HINT, path=path, line=line
        ) from None


def _server_major(text: str) -> int | None:
    match = _VERSION.search(text)
    return int(match.group(1)) if match else None


# Names and text


def _quote_ident(name: str) -> str:
    """``name`` as PostgreSQL's ``quote_ident`` writes it."""
    if _SAFE_IDENT.match(name) and name not in _QUOTED_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def _ident_value(raw: str) -> str:
    if raw.startswith('"'):
        return raw[1:-1].replace('""', '"')
    return raw.lower()


def _names(nodes: Iterable[Any] | None) -> tuple[str, ...]:
    """The values of a list of ``String`` nodes (column names)."""
    return tuple(str(n.sval) for n in nodes or ())


def _object_name(name1: str, name2: str, label: str) -> str:
    """As PostgreSQL's ``makeObjectName``: the parts cut, longer first, to fit 63 bytes."""
    one, two = name1.encode(), name2.encode()
    avail = 63 - len(label) - 1 - (1 if two else 0)
    while len(one) + len(two) > avail:
        if len(one) > len(two):
            one = one[:-1]
        else:
            two = two[:-1]
    parts = [one.decode(errors="ignore"), two.decode(errors="ignore"), label]
    return "_".join(p for p in parts if p)


def _unqualify(text: str, schema: str) -> str:
    """``text`` (an expression or type) with the names in ``schema`` unqualified."""
    tokens = scan(text)
    prefix = _quote_ident(schema) + "."
    cuts: list[tuple[int, int]] = []
    for i, tok in enumerate(tokens):
        raw = text[tok.start : tok.end + 1]
        follows_dot = i > 0 and tokens[i - 1].name == _DOT
        if _before_dot(tokens, i) and not follows_dot and _ident_value(raw) == schema:
            cuts.append((tok.start, tokens[i + 1].end + 1))
        elif tok.name == "SCONST" and _reg_cast(text, tokens, i) and raw[1:].startswith(prefix):
            cuts.append((tok.start + 1, tok.start + 1 + len(prefix)))
    for start, end in reversed(cuts):
        text = text[:start] + text[end:]
    return text


def _before_dot(tokens: list[Token], i: int) -> bool:
    return i + 1 < len(tokens) and tokens[i + 1].name == _DOT and tokens[i].name != "SCONST"


def _reg_cast(text: str, tokens: list[Token], i: int) -> bool:
    """The string constant at ``i`` is cast to regclass (or another reg* type)."""
    if i + 2 >= len(tokens) or tokens[i + 1].name != "TYPECAST":
        return False
    return text[tokens[i + 2].start : tokens[i + 2].end + 1].lower() in _REG_TYPES


class _Source:
    """The dump and its tokens, to cut texts out exactly as pg_dump wrote them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = scan(text)
        self._starts = [t.start for t in self.tokens]

    def at(self, pos: int) -> int:
        """Index of the first token at or after offset ``pos``."""
        return bisect_left(self._starts, pos)

    def find(self, name: str, pos: int, end: int) -> int:
        """Index of the first ``name`` token (outside brackets) from ``pos`` to ``end``."""
        depth = 0
        for i in range(self.at(pos), self.at(end)):
            tok = self.tokens[i].name
            if tok == name and depth == 0:
                return i
            depth += (tok in _OPEN) - (tok in _CLOSE)
        raise ValueError(f"no {name} at offset {pos}")  # the parse tree says there is one

    def cut(self, first: int, end: int, *, list_item: bool = True) -> str:
        """The text from token ``first`` up to offset ``end``, or to the closing bracket
        it is in, or (``list_item``) to a comma outside brackets."""
        depth, last = 0, first - 1
        for i in range(first, self.at(end)):
            tok = self.tokens[i].name
            if tok in _CLOSE and depth == 0:
                break
            if depth == 0 and (tok == _SEMICOLON or (list_item and tok == _COMMA)):
                break
            depth += (tok in _OPEN) - (tok in _CLOSE)
            last = i
        if last < first:
            return ""
        return self.text[self.tokens[first].start : self.tokens[last].end + 1]

    def inside(self, open_index: int) -> str:
        """What the bracket at token ``open_index`` encloses."""
        return self.cut(open_index + 1, len(self.text), list_item=False)


# The reader


@dataclass
class _Child:
    key: _Key
    partition: bool


@dataclass
class _Reader:
    """Applies the statements of a dump, in order, to the tables they describe."""

    text: str
    schema: str
    path: str
    src: _Source = field(init=False)
    tables: dict[_Key, Table] = field(default_factory=dict)
    children: dict[_Key, list[_Child]] = field(default_factory=dict)
    no_inherit: set[tuple[_Key, str]] = field(default_factory=set)
    used: set[tuple[str, str]] = field(default_factory=set)  # (schema, object name)
    owners: dict[_Key, str] = field(default_factory=dict)
    server_major: int | None = None
    search_path: str = "public"
    lo: int = 0  # the statement being read: offsets in the text
    hi: int = 0

    def __post_init__(self) -> None:
        self.src = _Source(self.text)

    def catalog(self, server_major: int | None) -> Catalog:
        tables = {name: t for (sch, name), t in self.tables.items() if sch == self.schema}
        return Catalog(self.schema, tables, server_major, source="dump")

    def read(self, raw: ast.RawStmt) -> None:
        self.lo = raw.stmt_location or 0
        self.hi = self.lo + raw.stmt_len if raw.stmt_len else len(self.text)
        handler = _HANDLERS.get(type(raw.stmt))
        if handler is not None:
            handler(self, raw.stmt)

    def fail(self, what: str) -> SpecError:
        line = self.text[: self.lo].count("\n") + 1
        return SpecError(f"{self.path}:{line}: {what}", _HINT, path=self.path, line=line)

    def key(self, rel: ast.RangeVar | None) -> _Key:
        assert rel is not None and rel.relname is not None
        return (rel.schemaname or self.search_path, rel.relname)

    def text_of(self, snippet: str) -> str:
        return _unqualify(snippet, self.schema)

    def choose(self, key: _Key, columns: Iterable[str], label: str) -> str:
        """The name PostgreSQL gives an unnamed constraint or index (not pg_dump's case)."""
        addition = "_".join(columns).encode()[:63].decode(errors="ignore")
        base = _object_name(key[1], addition, label)
        name, n = base, 0
        while (key[0], name) in self.used:
            n += 1
            name = _object_name(key[1], addition, f"{label}{n}")
        return name

    def note(self, key: _Key, name: str) -> str:
        self.used.add((key[0], name))
        return name

    # Statements

    def set_variable(self, stmt: ast.VariableSetStmt) -> None:
        if stmt.name == "search_path" and stmt.args:
            first = stmt.args[0]
            value = getattr(getattr(first, "val", None), "sval", None)
            if isinstance(value, str) and value:
                self.search_path = value

    def create_table_as(self, stmt: ast.CreateTableAsStmt) -> None:
        if stmt.objtype == ObjectType.OBJECT_TABLE:
            raise self.fail("CREATE TABLE ... AS is not in pg_dump --schema-only output")

    def create_table(self, stmt: ast.CreateStmt) -> None:
        if stmt.ofTypename is not None:
            raise self.fail("typed tables (CREATE TABLE ... OF type) are not supported")
        key = self.key(stmt.relation)
        table = Table(key[1], [], partitioned=stmt.partspec is not None)
        partition = stmt.partbound is not None
        for parent in stmt.inhRelations or ():
            self.inherit(key, table, self.key(parent), partition)
        self.tables[key] = table
        elements = list(stmt.tableElts or ())
        for element in elements:
            if isinstance(element, ast.TableLikeClause):
                raise self.fail("CREATE TABLE ... (LIKE ...) is not supported")
            if isinstance(element, ast.ColumnDef):
                self.column(key, element)
        for element in elements:
            if isinstance(element, ast.ColumnDef):
                for con in element.constraints or ():
                    self.constraint(key, con, str(element.colname), recurse=False)
            elif isinstance(element, ast.Constraint):
                self.constraint(key, element, None, recurse=False)

    def create_index(self, stmt: ast.IndexStmt) -> None:
        key = self.key(stmt.relation)
        table = self.tables.get(key)
        if table is None:  # an index of a materialized view
            return
        columns, exprs = _index_columns(stmt.indexParams, stmt.indexIncludingParams)
        where = None
        if stmt.whereClause is not None:
            first = self.src.find("WHERE", self.lo, self.hi) + 1
            where = self.text_of(self.src.cut(first, self.hi, list_item=False))
        name = stmt.idxname or self.choose(key, _index_name_columns(stmt.indexParams), "idx")
        method = stmt.accessMethod or "btree"
        info = IndexInfo(bool(stmt.unique), method, columns, where, False, exprs)
        table.add_index(self.note(key, name), info)

    def alter_table(self, stmt: ast.AlterTableStmt) -> None:
        if stmt.objtype != ObjectType.OBJECT_TABLE:
            return  # ALTER INDEX ... ATTACH PARTITION, ALTER SEQUENCE, ALTER VIEW ...
        key = self.key(stmt.relation)
        if key not in self.tables:  # a sequence or view (ALTER TABLE ... OWNER TO)
            return
        recurse = bool(stmt.relation is not None and stmt.relation.inh)
        defaults = 0
        for cmd in stmt.cmds or ():
            if cmd.subtype == AlterTableType.AT_ColumnDefault and cmd.def_ is not None:
                defaults += 1
            self.alter_command(key, cmd, recurse, defaults)

    def alter_command(self, key: _Key, cmd: ast.AlterTableCmd, recurse: bool, n: int) -> None:
        kind = cmd.subtype
        if kind in _UNSUPPORTED:
            raise self.fail(f"ALTER TABLE ... {_UNSUPPORTED[kind]} is not in pg_dump output")
        if kind == AlterTableType.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
            self.constraint(key, cmd.def_, None, recurse=recurse)
        elif kind == AlterTableType.AT_ColumnDefault:
            default = None if cmd.def_ is None else self.nth_default(n)
            self.each(key, recurse, lambda t: _set_column(t, str(cmd.name), default=default))
        elif kind in (AlterTableType.AT_SetNotNull, AlterTableType.AT_AddIdentity):
            self.each(key, recurse, lambda t: _set_column(t, str(cmd.name), nullable=False))
        elif kind == AlterTableType.AT_DropNotNull:
            self.each(key, recurse, lambda t: _set_column(t, str(cmd.name), nullable=True))
        elif kind == AlterTableType.AT_DropConstraint:
            self.each(key, recurse, lambda t: t.drop_constraint(str(cmd.name)))
        elif kind == AlterTableType.AT_AttachPartition and isinstance(cmd.def_, ast.PartitionCmd):
            self.attach(key, self.key(cmd.def_.name), partition=True)
        elif kind == AlterTableType.AT_AddInherit and isinstance(cmd.def_, ast.RangeVar):
            self.attach(self.key(cmd.def_), key, partition=False)
        elif kind == AlterTableType.AT_ChangeOwner and cmd.newowner is not None:
            owner = str(cmd.newowner.rolename)
            self.owners[key] = owner
            table = self.tables[key]
            table.grants = [g for g in table.grants if g.grantee != owner]
        # Everything else (statistics, replica identity, RLS, ...) is not modelled.

    def all_privileges(self) -> tuple[str, ...]:
        """What GRANT ALL on a table gives on the dumped server (MAINTAIN from 17)."""
        maintain = ("MAINTAIN",) if (self.server_major or 0) >= 17 else ()
        return _ALL_TABLE_PRIVILEGES + maintain

    def grant(self, stmt: ast.GrantStmt) -> None:
        """GRANT and REVOKE on tables (pg_dump writes them after the tables)."""
        if stmt.objtype != ObjectType.OBJECT_TABLE or stmt.targtype != 0:
            return  # ALL TABLES IN SCHEMA is not in pg_dump output; sequences, schemas...
        roles = [
            "PUBLIC" if r.roletype == RoleSpecType.ROLESPEC_PUBLIC else str(r.rolename)
            for r in stmt.grantees or ()
        ]
        privileges: list[tuple[str, list[str | None]]] = [
            (str(p.priv_name).upper(), [str(c.sval) for c in p.cols or ()])
            for p in stmt.privileges or ()
        ] or [(name, []) for name in self.all_privileges()]
        for rel in stmt.objects or ():
            key = self.key(rel)
            table = self.tables.get(key)
            if table is None:  # a view or sequence
                continue
            given = {
                Grant(role, name, col, bool(stmt.grant_option))
                for role in roles
                if role != self.owners.get(key)
                for name, cols in privileges
                for col in (cols or [None])
            }
            if stmt.is_grant:
                table.grants = sorted(set(table.grants) | given, key=Grant.sort_key)
            else:
                gone = {(g.grantee, g.privilege, g.column) for g in given}
                table.grants = [
                    g for g in table.grants if (g.grantee, g.privilege, g.column) not in gone
                ]

    def nth_default(self, n: int) -> str:
        """The expression of the ``n``-th SET DEFAULT of the statement."""
        at = self.lo
        for _ in range(n):
            at = self.src.tokens[self.src.find("DEFAULT", at, self.hi)].end + 1
        return self.text_of(self.src.cut(self.src.at(at), self.hi))

    def drop(self, stmt: ast.DropStmt) -> None:
        """``pg_dump --clean`` drops before it creates."""
        if stmt.removeType not in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_INDEX):
            return
        for obj in stmt.objects or ():
            names = _names(obj)
            key = (names[-2] if len(names) > 1 else self.search_path, names[-1])
            if stmt.removeType == ObjectType.OBJECT_TABLE:
                self.tables.pop(key, None)
                continue
            for (sch, _), table in self.tables.items():
                if sch == key[0]:
                    table.drop_index(key[1])

    def rename(self, stmt: ast.RenameStmt) -> None:
        if stmt.renameType in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_COLUMN):
            raise self.fail("ALTER TABLE ... RENAME is not in pg_dump --schema-only output")

    # Tables, columns and their relations

    def each(self, key: _Key, recurse: bool, change: Callable[[Table], Any]) -> None:
        """``change`` the table, and (``recurse``: no ONLY) its partitions and children."""
        change(self.tables[key])
        for child in self.children.get(key, []) if recurse else []:
            if child.key in self.tables:
                self.each(child.key, True, change)

    def inherit(self, key: _Key, table: Table, parent_key: _Key, partition: bool) -> None:
        """What a partition (or an inheritance child) takes from its parent when created."""
        parent = self.tables.get(parent_key)
        if parent is None:
            raise self.fail(f"the parent table {parent_key[0]}.{parent_key[1]} is not in the dump")
        for col in parent.columns:
            if table.column(col.name) is None:
                table.columns.append(col)
        for name, expr in parent.checks.items():
            if (parent_key, name) not in self.no_inherit:
                table.add_check(name, expr)
        self.children.setdefault(parent_key, []).append(_Child(key, partition))
        if partition:
            _clone_foreign_keys(parent, table)
            if parent_key[0] == key[0]:
                table.partition_of = parent_key[1]

    def attach(self, parent_key: _Key, key: _Key, *, partition: bool) -> None:
        """ATTACH PARTITION (or INHERIT): a partition gets the parent's foreign keys."""
        if parent_key not in self.tables or key not in self.tables:
            return
        self.children.setdefault(parent_key, []).append(_Child(key, partition))
        if partition:
            _clone_foreign_keys(self.tables[parent_key], self.tables[key])
            if parent_key[0] == key[0]:
                self.tables[key].partition_of = parent_key[1]

    def column(self, key: _Key, coldef: ast.ColumnDef) -> None:
        table, name = self.tables[key], str(coldef.colname)
        old = table.column(name)
        limits = sorted(c.location for c in _column_parts(coldef) if c.location is not None)
        col = old or Column(name, "")
        if coldef.typeName is not None and coldef.typeName.location is not None:
            start = coldef.typeName.location
            end = next((x for x in limits if x > start), self.hi)
            col = self.serial(
                key, replace(col, type=self.text_of(self.src.cut(self.src.at(start), end)))
            )
        for con in coldef.constraints or ():
            col = self.column_constraint(col, con, limits)
        if old is None:
            table.columns.append(col)
        else:
            table.replace_column(name, col)

    def serial(self, key: _Key, col: Column) -> Column:
        """A ``serial`` column (not in dumps: pg_dump writes what it stands for)."""
        real = _SERIALS.get(col.type.lower())
        if real is None:
            return col
        seq = _quote_ident(_object_name(key[1], col.name, "seq"))
        if key[0] != self.schema:
            seq = f"{_quote_ident(key[0])}.{seq}"
        return replace(col, type=real, nullable=False, default=f"nextval('{seq}'::regclass)")

    def column_constraint(self, col: Column, con: ast.Constraint, limits: list[int]) -> Column:
        kind, at = con.contype, con.location or 0
        if kind in (ConstrType.CONSTR_NOTNULL, ConstrType.CONSTR_IDENTITY):
            return replace(col, nullable=False)
        if kind == ConstrType.CONSTR_NULL:
            return replace(col, nullable=True)
        if kind == ConstrType.CONSTR_GENERATED:
            return replace(col, generated=True, default=None)
        if kind == ConstrType.CONSTR_DEFAULT:
            first = self.src.find("DEFAULT", at, self.hi) + 1
            end = next((x for x in limits if x > at), self.hi)
            return replace(col, default=self.text_of(self.src.cut(first, end)))
        return col

    # Constraints

    def constraint(self, key: _Key, con: ast.Constraint, column: str | None, recurse: bool) -> None:
        kind = con.contype
        if kind == ConstrType.CONSTR_PRIMARY:
            self.primary_key(key, con, column)
        elif kind == ConstrType.CONSTR_UNIQUE:
            self.unique(key, con, column)
        elif kind == ConstrType.CONSTR_CHECK:
            self.check(key, con, column, recurse)
        elif kind == ConstrType.CONSTR_FOREIGN:
            self.foreign_key(key, con, column, recurse)
        elif kind == ConstrType.CONSTR_EXCLUSION:
            self.exclusion(key, con)
        elif kind == ConstrType.CONSTR_NOTNULL and column is None:
            for name in _names(con.keys):
                self.each(key, recurse, partial(_set_column, name=name, nullable=False))

    def key_columns(self, key: _Key, con: ast.Constraint, column: str | None) -> tuple[str, ...]:
        """The columns of a primary key or unique constraint, INCLUDE columns last (as the
        server lists the columns of the index)."""
        table = self.tables[key]
        if con.indexname:  # ... USING INDEX name: the index becomes the constraint's
            columns = table.indexes.get(con.indexname, ())
            table.drop_index(con.indexname)
            return columns
        keys = _names(con.keys) or ((column,) if column else ())
        return keys + _names(con.including)

    def primary_key(self, key: _Key, con: ast.Constraint, column: str | None) -> None:
        table = self.tables[key]
        columns = self.key_columns(key, con, column)
        for name in columns:
            _set_column(table, name, nullable=False)
        name = con.conname or self.choose(key, [], "pkey")
        table.add_primary_key(self.note(key, name), columns)

    def unique(self, key: _Key, con: ast.Constraint, column: str | None) -> None:
        columns = self.key_columns(key, con, column)
        name = con.conname or self.choose(key, columns, "key")
        self.tables[key].add_unique(self.note(key, name), columns)

    def check(self, key: _Key, con: ast.Constraint, column: str | None, recurse: bool) -> None:
        open_paren = self.src.find("CHECK", con.location or self.lo, self.hi) + 1
        expr = self.text_of(self.src.inside(open_paren))
        if con.conname:
            name = con.conname
        else:
            refs = column or _single_column(con.raw_expr)
            name = self.choose(key, [refs] if refs else [], "check")
        self.note(key, name)
        if con.is_no_inherit:
            self.no_inherit.add((key, name))
        self.each(key, recurse and not con.is_no_inherit, lambda t: t.add_check(name, expr))

    def foreign_key(
        self, key: _Key, con: ast.Constraint, column: str | None, recurse: bool
    ) -> None:
        columns = _names(con.fk_attrs) or ((column,) if column else ())
        ref_key = self.key(con.pktable)
        ref_columns = _names(con.pk_attrs) or self.primary_key_of(ref_key)
        name = self.note(key, con.conname or self.choose(key, columns, "fkey"))
        fk = None
        if ref_key[0] == key[0]:  # introspection lists foreign keys within the schema only
            definition = _fk_definition(con, columns, _quote_ident(ref_key[1]), ref_columns)
            fk = ForeignKey(columns, ref_key[1], ref_columns, definition)
        self.each_partition(key, recurse, lambda t: _add_foreign_key(t, name, fk))

    def each_partition(self, key: _Key, recurse: bool, change: Callable[[Table], Any]) -> None:
        change(self.tables[key])
        for child in self.children.get(key, []) if recurse else []:
            if child.partition and child.key in self.tables:
                self.each_partition(child.key, True, change)

    def primary_key_of(self, key: _Key) -> tuple[str, ...]:
        table = self.tables.get(key)
        if table is None or not table.primary_key:
            raise self.fail(
                f"a foreign key references {key[0]}.{key[1]} without columns, "
                "and that table has no primary key before it"
            )
        return table.primary_key

    def exclusion(self, key: _Key, con: ast.Constraint) -> None:
        elems = [pair[0] for pair in con.exclusions or ()]
        columns, exprs = _index_columns(elems, con.including)
        where = None
        if con.where_clause is not None:
            open_paren = self.src.find("WHERE", con.location or self.lo, self.hi) + 1
            where = self.text_of(self.src.inside(open_paren))  # pg_dump adds a pair of parens
        name = self.note(key, con.conname or self.choose(key, _index_name_columns(elems), "excl"))
        table = self.tables[key]
        method = con.access_method or "btree"
        table.indexes[name] = columns
        table.index_info[name] = IndexInfo(False, method, columns, where, False, exprs)
        table.constraints[name] = "exclusion"


_HANDLERS: dict[type[Any], Callable[[_Reader, Any], None]] = {
    ast.CreateStmt: _Reader.create_table,
    ast.CreateTableAsStmt: _Reader.create_table_as,
    ast.IndexStmt: _Reader.create_index,
    ast.AlterTableStmt: _Reader.alter_table,
    ast.DropStmt: _Reader.drop,
    ast.RenameStmt: _Reader.rename,
    ast.VariableSetStmt: _Reader.set_variable,
    ast.GrantStmt: _Reader.grant,
}
_ALL_TABLE_PRIVILEGES = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
)


def _column_parts(coldef: ast.ColumnDef) -> list[Any]:
    """The clauses after a column's type, whose starts end the texts before them."""
    parts: list[Any] = list(coldef.constraints or ())
    if coldef.collClause is not None:
        parts.append(coldef.collClause)
    return parts


def _set_column(table: Table, name: str, **changes: Any) -> None:
    col = table.column(name)
    if col is not None:
        table.replace_column(name, replace(col, **changes))


def _clone_foreign_keys(parent: Table, partition: Table) -> None:
    """The foreign keys of a partitioned table, as the server clones them to a partition."""
    for name, kind in parent.constraints.items():
        if kind == "foreign_key":
            _add_foreign_key(partition, name, parent.foreign_keys.get(name))


def _add_foreign_key(table: Table, name: str, fk: ForeignKey | None) -> None:
    table.constraints[name] = "foreign_key"
    if fk is not None:
        table.foreign_keys[name] = fk


def _plain_column(elem: Any) -> str | None:
    """The column an index element is, or None for an expression."""
    if elem.name:
        return str(elem.name)
    expr = elem.expr
    if isinstance(expr, ast.ColumnRef) and len(expr.fields or ()) == 1:
        return _names(expr.fields)[0]  # ((col)): the server makes it a plain column
    return None


def _index_columns(
    elems: Iterable[Any] | None, including: Iterable[Any] | None
) -> tuple[tuple[str, ...], bool]:
    """The plain columns of an index (key columns, then INCLUDE columns, as the server
    lists them) and whether it has expressions."""
    plain = [_plain_column(e) for e in elems or ()]
    extra = [
        _plain_column(e) if isinstance(e, ast.IndexElem) else str(e.sval) for e in including or ()
    ]
    columns = tuple(c for c in plain + extra if c is not None)
    return columns, any(c is None for c in plain)


def _index_name_columns(elems: Iterable[Any] | None) -> list[str]:
    return [_plain_column(e) or "expr" for e in elems or ()]


def _single_column(expr: Any) -> str | None:
    """The column an unnamed table CHECK is named after: its only column reference."""
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, ast.ColumnRef):
            refs.extend(str(f.sval) for f in node.fields or () if isinstance(f, ast.String))
        elif isinstance(node, ast.Node):
            for attr in node:
                walk(getattr(node, attr))
        elif isinstance(node, tuple):
            for item in node:
                walk(item)

    walk(expr)
    return refs[0] if len(refs) == 1 else None


def _fk_definition(
    con: ast.Constraint, columns: tuple[str, ...], ref: str, ref_columns: tuple[str, ...]
) -> str:
    """The foreign key as ``pg_get_constraintdef`` writes it."""
    cols = ", ".join(_quote_ident(c) for c in columns)
    refs = ", ".join(_quote_ident(c) for c in ref_columns)
    text = f"FOREIGN KEY ({cols}) REFERENCES {ref}({refs})"
    if con.fk_matchtype == "f":
        text += " MATCH FULL"
    if con.fk_upd_action in _FK_ACTIONS:
        text += f" ON UPDATE {_FK_ACTIONS[str(con.fk_upd_action)]}"
    if con.fk_del_action in _FK_ACTIONS:
        text += f" ON DELETE {_FK_ACTIONS[str(con.fk_del_action)]}"
        if con.fk_del_set_cols:
            text += f" ({', '.join(_quote_ident(c) for c in _names(con.fk_del_set_cols))})"
    if con.deferrable:
        text += " DEFERRABLE"
    if con.initdeferred:
        text += " INITIALLY DEFERRED"
    if con.is_enforced is False:
        text += " NOT ENFORCED"
    elif con.skip_validation:
        text += " NOT VALID"
    return text
