"""sql: statements run as written at expand; ``down`` runs at rollback.

The GRANTs and REVOKEs on tables among them are followed: the version schema's
views, created after them, get the privileges the tables have by then (a table
the migration creates and grants in a ``sql`` operation is usable by the new
app), and an offline replay records them on the tables.
"""

from __future__ import annotations

from pglast import ast, parse_sql
from pglast.enums.parsenodes import GrantTargetType, ObjectType, RoleSpecType
from pglast.stream import RawStream

from zdmigrate.model.schema import Catalog, Grant, GrantChange, IndexInfo
from zdmigrate.model.step import Lock, Phase
from zdmigrate.ops._common import add_step
from zdmigrate.ops.work import PlanContext
from zdmigrate.spec.models import RawSql

__all__ = ["apply", "grant_changes", "plan"]

# what GRANT ALL gives on a table, and on a column
ALL_TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
MAINTAIN_SINCE = 17  # GRANT ALL gives MAINTAIN too from PostgreSQL 17 on
ALL_COLUMN_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "REFERENCES")


_NOTE = "raw SQL: the lock depends on the statements; check them with 'zdmigrate lint'"


def plan(op: RawSql, ctx: PlanContext) -> None:
    major = ctx.catalog.server_major
    ctx.grant_changes += grant_changes(op.up, ctx.schema, _tables_now(ctx), major)
    lock, notes = Lock.access_exclusive, (_NOTE,)
    add_step(ctx, Phase.expand, "sql", "run the operation's SQL", op.up, lock=lock, notes=notes)
    if op.down is not None:
        add_step(
            ctx, Phase.rollback, "sql", "undo the operation's SQL", op.down, lock=lock, notes=notes
        )


def _tables_now(ctx: PlanContext) -> list[str]:
    """The schema's tables when the operation runs: those there, and those the
    migration's earlier operations create."""
    created = [w.table.name for w in ctx.work.values() if w.created and not w.dropped]
    return [*ctx.catalog.tables, *created]


def grant_changes(
    text: str, schema: str, tables: list[str], server_major: int | None = None
) -> list[GrantChange]:
    """The GRANTs and REVOKEs of ``text`` on tables of ``schema``, in order; ``ON ALL
    TABLES IN SCHEMA`` names ``tables``.

    The statements run with the connection's search_path, so an unqualified name is
    taken to be in ``schema`` only when that is ``public`` (where the default
    search_path resolves it); elsewhere only names qualified with ``schema`` count. A
    grantee given as CURRENT_USER and the like is the migration role, the owner, which
    needs no grant on its own views. ``server_major``: what ALL means (MAINTAIN from
    17 on; a REVOKE ALL takes it whatever the version)."""
    out = []
    for raw in parse_sql(text):
        stmt = raw.stmt
        if not isinstance(stmt, ast.GrantStmt) or stmt.objtype != ObjectType.OBJECT_TABLE:
            continue
        if stmt.targtype == GrantTargetType.ACL_TARGET_OBJECT:
            names = [
                str(rel.relname)
                for rel in stmt.objects or ()
                if isinstance(rel, ast.RangeVar)
                and (rel.schemaname == schema or (rel.schemaname is None and schema == "public"))
            ]
        elif stmt.targtype == GrantTargetType.ACL_TARGET_ALL_IN_SCHEMA:
            named = {str(s.sval) for s in stmt.objects or ()}
            names = list(tables) if schema in named else []
        else:
            continue
        grants = tuple(_grants_of(stmt, server_major))
        for name in names:
            option_only = bool(stmt.grant_option) and not stmt.is_grant
            out.append(GrantChange(name, bool(stmt.is_grant), grants, option_only))
    return out


def _grants_of(stmt: ast.GrantStmt, server_major: int | None) -> list[Grant]:
    roles = []
    for spec in stmt.grantees or ():
        if spec.roletype == RoleSpecType.ROLESPEC_PUBLIC:
            roles.append("PUBLIC")
        elif spec.roletype == RoleSpecType.ROLESPEC_CSTRING and spec.rolename:
            roles.append(str(spec.rolename))
    option = bool(stmt.grant_option) and bool(stmt.is_grant)
    privileges: list[tuple[str, str | None]] = []
    for priv in stmt.privileges or [ast.AccessPriv()]:  # none listed: ALL
        columns: list[str | None] = [str(c.sval) for c in priv.cols or ()]
        names: tuple[str, ...]
        if priv.priv_name is None:
            names = ALL_COLUMN_PRIVILEGES if columns else ALL_TABLE_PRIVILEGES
            if not columns and (not stmt.is_grant or (server_major or 0) >= MAINTAIN_SINCE):
                names = (*names, "MAINTAIN")
        else:
            names = (str(priv.priv_name).upper(),)
        privileges += [(n, c) for n in names for c in (columns or [None])]
    return [Grant(role, name, column, option) for role in roles for name, column in privileges]


def apply(op: RawSql, catalog: Catalog) -> None:
    """The indexes the statements create or drop, and the privileges they grant or
    revoke on the tables; other statements are not modelled (planning from a schema
    file or the database sees what they did)."""
    changes = grant_changes(op.up, catalog.schema, list(catalog.tables), catalog.server_major)
    for change in changes:
        table = catalog.table(change.table)
        if table is not None:
            table.grants = change.applied(table.grants)
    for raw in parse_sql(op.up):
        stmt = raw.stmt
        if isinstance(stmt, ast.IndexStmt):
            _create_index(stmt, catalog)
        elif isinstance(stmt, ast.DropStmt) and stmt.removeType == ObjectType.OBJECT_INDEX:
            for name in stmt.objects or ():
                index = str(name[-1].sval)
                for table in catalog.tables.values():
                    if index in table.indexes:
                        table.drop_index(index)


def _create_index(stmt: ast.IndexStmt, catalog: Catalog) -> None:
    rel = stmt.relation
    if rel is None or stmt.idxname is None or rel.schemaname not in (None, catalog.schema):
        return
    table = catalog.table(str(rel.relname))
    if table is None:
        return
    params = stmt.indexParams or ()
    columns = tuple(str(p.name) for p in params if p.name is not None)
    where = RawStream()(stmt.whereClause) if stmt.whereClause is not None else None
    exprs = len(columns) != len(params)
    info = IndexInfo(bool(stmt.unique), str(stmt.accessMethod), columns, where, False, exprs)
    table.add_index(str(stmt.idxname), info)
