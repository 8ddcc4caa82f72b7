"""SQL statements -> operations of a migration file.

Each statement is parsed with pglast. What a migration file can say becomes
its operation (an ``ALTER TABLE`` with several subcommands becomes several
operations; changes of one column are merged into one ``alter_column``);
the rest becomes a ``sql`` operation, marked for review. ``existing_type``
tells the type a column had before a statement changed it (from Alembic),
so a type change gets a ``down`` that casts back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType as At
from pglast.enums import ConstrType, DropBehavior, ObjectType, SortByDir, SortByNulls

from zdmigrate.convert._columns import (
    Unsupported,
    column_fields,
    fk_target,
    names,
)
from zdmigrate.convert._combine import combine
from zdmigrate.convert._pg import (
    clause_sql,
    column_refs,
    expr_sql,
    ident,
    parse_statement,
    qualified,
    statement_sql,
)
from zdmigrate.convert._pg import type_sql as type_text
from zdmigrate.convert.draft import Draft
from zdmigrate.errors import SpecError
from zdmigrate.lint.source import Source, parse

__all__ = ["ExistingTypes", "SqlResult", "convert_source", "raw_sql"]

# (statement offset in the source, table, column) -> the column's type before it
ExistingTypes = Callable[[int, str, str], "str | None"]

RAW_REVIEW = "runs as written: check it is safe while the old version runs (see lint findings)"
_CASCADE = "CASCADE is not kept: drop what depends on it (views, constraints) first, by hand"
_METHODS = {"btree", "hash", "gist", "gin", "brin", "spgist"}


@dataclass
class SqlResult:
    drafts: list[Draft] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def raw_sql(text: str, origin: str, reason: str = "") -> Draft:
    """A ``sql`` operation holding ``text`` as written."""
    body = text.strip()
    if not body.endswith(";"):
        body += ";"
    note = f"{reason}; {RAW_REVIEW}" if reason else RAW_REVIEW
    return Draft("sql", {"up": body}, review={"": note}, origin=origin)


def _skip_reason(node: Any) -> str | None:
    if isinstance(node, ast.TransactionStmt):
        return "zdmigrate runs each step in its own transaction"
    if isinstance(node, ast.VariableSetStmt):
        return "zdmigrate sets lock_timeout and statement_timeout itself"
    relation = getattr(node, "relation", None)
    if isinstance(relation, ast.RangeVar) and relation.relname == "alembic_version":
        return "Alembic's own bookkeeping"
    return None


class _Statement:
    """The operations of one statement."""

    def __init__(self, text: str, origin: str, existing: Callable[[str, str], str | None]) -> None:
        self.text = text
        self.origin = origin
        self.existing = existing
        self.drafts: list[Draft] = []

    def add(self, kind: str, fields: dict[str, Any], **notes: dict[str, str]) -> Draft:
        draft = Draft(kind, fields, origin=self.origin, **notes)
        self.drafts.append(draft)
        return draft

    def raw(self, node: Any, reason: str = "") -> None:
        text = statement_sql(node) if node is not None else self.text
        self.drafts.append(raw_sql(text, self.origin, reason))

    # ALTER TABLE
    def alter_table(self, node: Any) -> None:
        if node.objtype != ObjectType.OBJECT_TABLE or not node.relation.inh:
            self.raw(None)
            return
        table = qualified(node.relation)
        for cmd in node.cmds or ():
            try:
                self.subcommand(table, cmd)
            except Unsupported as exc:
                alone = ast.AlterTableStmt(
                    relation=node.relation, cmds=(cmd,), objtype=node.objtype
                )
                self.raw(alone, str(exc))

    def subcommand(self, table: str, cmd: Any) -> None:
        kind, column = cmd.subtype, cmd.name
        if kind == At.AT_AddColumn:
            self.add_column(table, cmd.def_)
        elif kind == At.AT_DropColumn:
            note = "give 'down' if the old version needs a value in rows the new version writes"
            review = {"down": note}
            if cmd.behavior == DropBehavior.DROP_CASCADE:
                review[""] = _CASCADE
            self.add("drop_column", {"table": table, "column": column}, review=review)
        elif kind == At.AT_AlterColumnType:
            self.alter_type(table, column, cmd.def_)
        elif kind == At.AT_SetNotNull:
            up = "rows where it is NULL need a value, e.g. COALESCE(" + ident(column) + ", ...)"
            fields = {"table": table, "column": column, "nullable": False, "up": ident(column)}
            self.add("alter_column", fields, review={"up": up})
        elif kind == At.AT_DropNotNull:
            down = (
                "left out: rows the new version writes with NULL fail in the old version's "
                "NOT NULL column; give a value for them, e.g. COALESCE(" + ident(column) + ", ...)"
            )
            fields = {"table": table, "column": column, "nullable": True}
            self.add("alter_column", fields, review={"down": down})
        elif kind == At.AT_ColumnDefault:
            change: dict[str, Any] = (
                {"default": expr_sql(cmd.def_)} if cmd.def_ is not None else {"drop_default": True}
            )
            self.add("alter_column", {"table": table, "column": column, **change})
        elif kind == At.AT_AddConstraint:
            self.constraint(table, cmd.def_)
        elif kind == At.AT_DropConstraint:
            self.add("drop_constraint", {"table": table, "name": cmd.name})
        else:
            clause = clause_sql(cmd, At(int(kind or 0)).name[3:])
            raise Unsupported(f"{clause} has no equivalent in a migration file")

    def add_column(self, table: str, col: Any) -> None:
        got = column_fields(col, table)
        if got.fields.get("primary_key"):
            raise Unsupported("add_column cannot add a primary key column")
        review = {f"column.{k}": v for k, v in got.review.items()}
        fill = {f"column.{k}": v for k, v in got.fill.items()}
        if got.fields.get("nullable") is False and "default" not in got.fields:
            fill["up"] = "a NOT NULL column needs the value of existing rows (an expression)"
        self.add("add_column", {"table": table, "column": got.fields}, review=review, fill=fill)

    def alter_type(self, table: str, column: str, col: Any) -> None:
        if col.collClause is not None:
            raise Unsupported("COLLATE has no equivalent in a migration file")
        new = type_text(col.typeName)
        name = ident(column)
        up = expr_sql(col.raw_default) if col.raw_default is not None else f"{name}::{new}"
        fields: dict[str, Any] = {"table": table, "column": column, "type": new, "up": up}
        old = self.existing(table, column)
        review = {}
        if old is not None:
            fields["down"] = f"{name}::{old}"
        else:
            review["down"] = (
                "left out: the new value is cast back to the old type; give 'down' "
                "when that cast can fail or lose meaning"
            )
        self.add("alter_column", fields, review=review)

    # ADD CONSTRAINT
    def constraint(self, table: str, con: Any) -> None:
        kind = con.contype
        if con.deferrable or con.initdeferred:
            raise Unsupported("DEFERRABLE has no equivalent in a migration file")
        bare = table.rsplit(".", 1)[-1]
        review: dict[str, str] = {}
        fields: dict[str, Any]
        if kind == ConstrType.CONSTR_CHECK:
            refs = column_refs(con.raw_expr)
            chosen = f"{bare}_{refs[0]}_check" if len(refs) == 1 else f"{bare}_check"
            name = con.conname or _chosen(review, chosen)
            fields = {
                "table": table,
                "name": name,
                "type": "check",
                "check": expr_sql(con.raw_expr),
            }
            self.add("create_constraint", fields, review=review)
        elif kind == ConstrType.CONSTR_UNIQUE:
            self.unique(table, con, review)
        elif kind == ConstrType.CONSTR_FOREIGN:
            columns = names(con.fk_attrs)
            name = con.conname or _chosen(review, f"{bare}_{'_'.join(columns)}_fkey")
            ref, fill = fk_target(con, table)
            fields = {"table": table, "name": name, "type": "foreign_key"}
            fields |= {"columns": columns, "references": ref}
            fills = {f"references.{k}": v for k, v in fill.items()}
            self.add("create_constraint", fields, review=review, fill=fills)
        elif kind == ConstrType.CONSTR_PRIMARY:
            self.primary_key(table, con, review)
        else:
            clause = clause_sql(con, f"a {kind.name[7:]} constraint")
            raise Unsupported(f"{clause} has no equivalent in a migration file")

    def unique(self, table: str, con: Any, review: dict[str, str]) -> None:
        if con.indexname or con.including or con.options or con.nulls_not_distinct:
            raise Unsupported(
                "USING INDEX, INCLUDE, WITH and NULLS NOT DISTINCT have no equivalent"
            )
        columns = names(con.keys)
        bare = table.rsplit(".", 1)[-1]
        name = con.conname or _chosen(review, f"{bare}_{'_'.join(columns)}_key")
        fields = {"table": table, "name": name, "type": "unique", "columns": columns}
        self.add("create_constraint", fields, review=review)

    def primary_key(self, table: str, con: Any, review: dict[str, str]) -> None:
        """The safe recipe: a unique index built concurrently, then the constraint on it."""
        if con.indexname or con.including or con.options:
            raise Unsupported("USING INDEX, INCLUDE and WITH have no equivalent")
        columns = names(con.keys)
        bare = table.rsplit(".", 1)[-1]
        name = con.conname or _chosen(review, f"{bare}_pkey")
        index = {"name": name, "table": table, "columns": columns, "unique": True}
        review[""] = "a primary key is added as a unique index built concurrently (this one) ..."
        self.add("create_index", index, review=review)
        qname = ".".join(ident(p) for p in table.split("."))
        up = f"ALTER TABLE {qname} ADD CONSTRAINT {ident(name)} PRIMARY KEY USING INDEX {ident(name)};"
        down = f"ALTER TABLE {qname} DROP CONSTRAINT {ident(name)};"
        note = (
            "... then attached as the primary key (a short ACCESS EXCLUSIVE lock); the "
            f"columns {', '.join(columns)} must be NOT NULL already, or this scans the table"
        )
        self.add("sql", {"up": up, "down": down}, review={"": note})

    # other statements
    def rename(self, node: Any) -> None:
        kind = node.renameType
        if kind == ObjectType.OBJECT_COLUMN and node.relationType == ObjectType.OBJECT_TABLE:
            table = qualified(node.relation)
            self.add("rename_column", {"table": table, "from": node.subname, "to": node.newname})
        elif kind == ObjectType.OBJECT_TABLE:
            self.add("rename_table", {"from": qualified(node.relation), "to": node.newname})
        else:
            self.raw(None, f"renaming a {kind.name[7:].lower()} has no equivalent")

    def create_index(self, node: Any) -> None:
        plain = all(
            e.name
            and e.expr is None
            and not e.opclass
            and not e.collation
            and e.ordering == SortByDir.SORTBY_DEFAULT
            and e.nulls_ordering == SortByNulls.SORTBY_NULLS_DEFAULT
            for e in node.indexParams or ()
        )
        method = node.accessMethod or "btree"
        extra = node.indexIncludingParams or node.options or node.tableSpace
        if not plain or extra or method not in _METHODS or node.nulls_not_distinct:
            reason = (
                "expressions, sort orders, operator classes, INCLUDE and WITH have no equivalent"
            )
            self.raw(None, reason)
            return
        table = qualified(node.relation)
        columns = [str(e.name) for e in node.indexParams]
        review: dict[str, str] = {}
        name = node.idxname or _chosen(review, f"{node.relation.relname}_{'_'.join(columns)}_idx")
        fields: dict[str, Any] = {"name": name, "table": table, "columns": columns}
        if node.unique:
            fields["unique"] = True
        if method != "btree":
            fields["method"] = method
        if node.whereClause is not None:
            fields["where"] = expr_sql(node.whereClause)
        self.add("create_index", fields, review=review)

    def drop(self, node: Any) -> None:
        kinds = {
            ObjectType.OBJECT_INDEX: ("drop_index", "name"),
            ObjectType.OBJECT_TABLE: ("drop_table", "table"),
        }
        if node.removeType not in kinds:
            self.raw(None)
            return
        op, key = kinds[node.removeType]
        review = {"": _CASCADE} if node.behavior == DropBehavior.DROP_CASCADE else {}
        for obj in node.objects or ():
            self.add(op, {key: ".".join(names(obj))}, review=dict(review))

    def create_table(self, node: Any) -> None:
        special = node.inhRelations or node.partspec or node.partbound or node.ofTypename
        if special or node.options or node.tablespacename or node.relation.relpersistence != "p":
            self.raw(None, "inheritance, partitions, storage options and temporary tables")
            return
        table = qualified(node.relation)
        columns: list[dict[str, Any]] = []
        review: dict[str, str] = {}
        fill: dict[str, str] = {}
        later: list[ast.Constraint] = []
        for element in node.tableElts or ():
            if isinstance(element, ast.ColumnDef):
                got = column_fields(element, table)
                at = f"columns.{len(columns)}"
                if got.review:
                    review[at] = "; ".join(f"{k}: {v}" for k, v in got.review.items())
                fill |= {f"{at}.{k}": v for k, v in got.fill.items()}
                columns.append(got.fields)
            elif isinstance(element, ast.Constraint):
                later.append(element)
            else:
                raise Unsupported("LIKE has no equivalent in a migration file")
        rest = [c for c in later if not _fold(c, columns, review)]
        self.add("create_table", {"table": table, "columns": columns}, review=review, fill=fill)
        for con in rest:
            self.constraint(table, con)


def _fold(con: Any, columns: list[dict[str, Any]], review: dict[str, str]) -> bool:
    """Put a table constraint into its column's definition when that says the same."""
    keys = names(con.keys) or names(con.fk_attrs)
    by_name = {c["name"]: i for i, c in enumerate(columns)}
    if con.contype == ConstrType.CONSTR_PRIMARY and all(k in by_name for k in keys):
        for key in keys:
            columns[by_name[key]]["primary_key"] = True
        if con.conname:
            review[f"columns.{by_name[keys[0]]}"] = (
                f"the primary key's name '{con.conname}' is not kept"
            )
        return True
    if con.conname or len(keys) != 1 or keys[0] not in by_name or con.deferrable:
        return False
    column = columns[by_name[keys[0]]]
    if con.contype == ConstrType.CONSTR_UNIQUE and not (con.including or con.nulls_not_distinct):
        column["unique"] = True
        return True
    if con.contype == ConstrType.CONSTR_FOREIGN and names(con.pk_attrs):
        try:
            column["references"] = fk_target(con, "")[0]
        except Unsupported:
            return False
        return True
    return False


def _chosen(review: dict[str, str], name: str) -> str:
    review["name"] = "the SQL gives no name: this is the one PostgreSQL would likely choose"
    return name[:63]


def _existing_for(existing: ExistingTypes | None, start: int) -> Callable[[str, str], str | None]:
    if existing is None:
        return lambda table, column: None
    return lambda table, column: existing(start, table, column)


def _dispatch(stmt: _Statement, node: Any) -> None:
    handlers: dict[type, Callable[[Any], None]] = {
        ast.AlterTableStmt: stmt.alter_table,
        ast.RenameStmt: stmt.rename,
        ast.IndexStmt: stmt.create_index,
        ast.DropStmt: stmt.drop,
        ast.CreateStmt: stmt.create_table,
    }
    handler = handlers.get(type(node))
    if handler is None:
        stmt.raw(None)
        return
    try:
        handler(node)
    except Unsupported as exc:
        stmt.drafts = []
        stmt.raw(None, str(exc))


def convert_source(source: Source, existing: ExistingTypes | None = None) -> SqlResult:
    """The operations of every statement of ``source``; a syntax error is refused."""
    statements, problems = parse(source)
    if problems:
        where = source.position(problems[0].offset)
        raise SpecError(
            f"{where.path}:{where.line}: {problems[0].message}",
            "convert reads SQL that PostgreSQL accepts: fix the statement",
        )
    result = SqlResult()
    for statement in statements:
        line = source.position(statement.start).line
        origin = f"line {line}"
        text = statement.text.strip()
        node = parse_statement(text)
        if node is None:
            continue
        reason = _skip_reason(node)
        if reason is not None:
            result.skipped.append(f"left out {origin}: {text.splitlines()[0][:60]} ({reason})")
            continue
        stmt = _Statement(text, origin, _existing_for(existing, statement.start))
        _dispatch(stmt, node)
        result.drafts.extend(stmt.drafts)
    result.drafts = combine(result.drafts)
    return result
