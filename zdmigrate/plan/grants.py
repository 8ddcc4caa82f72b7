"""Privileges follow the table: the version schema's views get what the tables have.

A role that may read or write a table must be able to do the same through the
new version's view of it, or PostgreSQL silently skips the version schema in
that role's search_path and the new app runs against the old shape. So
expand grants USAGE on the version schema to every role with a privilege on a
table, and on each view the table's privileges (table-level, and column-level
under the view's column names). A shadow column (the new type of a changed
column) gets the column privileges of the column it replaces, so they are
still there after contract swaps it in. A table the migration creates gets
the schema's default privileges for the migration role (ALTER DEFAULT
PRIVILEGES), which PostgreSQL applies to the table itself; its view gets the
same. Roles that reach a table through membership reach the view the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from psycopg import sql

from zdmigrate.model.schema import INTERNAL_PREFIX, Grant
from zdmigrate.ops import TableWork

__all__ = ["schema_usage_sql", "shadow_grants_sql", "view_grants", "view_grants_sql"]

# what a view, and a view's column, can be granted (TRUNCATE, REFERENCES, TRIGGER and
# MAINTAIN mean nothing on one)
VIEW_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
VIEW_COLUMN_PRIVILEGES = ("SELECT", "INSERT", "UPDATE")


def _role(name: str) -> sql.Composable:
    return sql.SQL("PUBLIC") if name == "PUBLIC" else sql.Identifier(name)


def _origins(work: TableWork) -> dict[str, str]:
    """Physical column -> the column of the table as it was whose privileges it takes:
    itself, or for a shadow column the old column its down transform writes."""
    downs = {t.label: t.target for t in work.transforms if t.direction == "down"}
    out = {c.name: c.name for c in work.table.columns}
    for t in work.transforms:
        if t.direction == "up" and t.label in downs:
            out[t.target] = downs[t.label]
    return out


def view_grants(work: TableWork, table_grants: list[Grant]) -> list[Grant]:
    """The grants of ``work``'s view: the table's, columns under their view names."""
    origins = _origins(work)
    by_origin: dict[str, list[str]] = defaultdict(list)
    for vc in work.view_columns:
        by_origin[origins.get(vc.source, vc.source)].append(vc.name)
    out: list[Grant] = []
    for g in table_grants:
        if g.column is None:
            if g.privilege in VIEW_PRIVILEGES:
                out.append(g)
        elif g.privilege in VIEW_COLUMN_PRIVILEGES:
            out += [
                Grant(g.grantee, g.privilege, name, g.grantable) for name in by_origin[g.column]
            ]
    return sorted(set(out), key=Grant.sort_key)


def _grant_statements(target: sql.Composable, grants: Iterable[Grant]) -> list[str]:
    """GRANT statements for ``grants`` on ``target``, one per role and grant option."""
    table: dict[tuple[str, bool], list[str]] = defaultdict(list)
    columns: dict[tuple[str, bool], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for g in sorted(set(grants), key=Grant.sort_key):
        if g.column is None:
            table[(g.grantee, g.grantable)].append(g.privilege)
        else:
            columns[(g.grantee, g.grantable)][g.privilege].append(g.column)
    out = []
    for (grantee, grantable), privileges in sorted(table.items()):
        out.append(
            sql.SQL("GRANT {} ON {} TO {}{};").format(
                sql.SQL(", ").join(sql.SQL(p) for p in privileges),
                target,
                _role(grantee),
                sql.SQL(" WITH GRANT OPTION" if grantable else ""),
            )
        )
    for (grantee, grantable), per_privilege in sorted(columns.items()):
        parts = [
            sql.SQL("{} ({})").format(
                sql.SQL(p), sql.SQL(", ").join(sql.Identifier(c) for c in cols)
            )
            for p, cols in sorted(per_privilege.items())
        ]
        out.append(
            sql.SQL("GRANT {} ON {} TO {}{};").format(
                sql.SQL(", ").join(parts),
                target,
                _role(grantee),
                sql.SQL(" WITH GRANT OPTION" if grantable else ""),
            )
        )
    return [s.as_string() for s in out]


def view_grants_sql(version_schema: str, view: str, grants: list[Grant]) -> list[str]:
    return _grant_statements(
        sql.SQL("TABLE {}").format(sql.Identifier(version_schema, view)), grants
    )


def schema_usage_sql(version_schema: str, grantees: Iterable[str]) -> list[str]:
    """USAGE on the version schema for every role granted something on a view."""
    roles = sorted(set(grantees))
    if not roles:
        return []
    stmt = sql.SQL("GRANT USAGE ON SCHEMA {} TO {};").format(
        sql.Identifier(version_schema), sql.SQL(", ").join(_role(r) for r in roles)
    )
    return [stmt.as_string()]


def shadow_grants_sql(schema: str, work: TableWork) -> list[str]:
    """The column privileges of a changed column, given to the shadow column that
    replaces it at contract (privileges belong to a column, and the shadow is a new one)."""
    origins = _origins(work)
    shadows = {
        name: origin
        for name, origin in origins.items()
        if name != origin and name.startswith(INTERNAL_PREFIX)
    }
    grants = [
        Grant(g.grantee, g.privilege, shadow, g.grantable)
        for shadow, origin in sorted(shadows.items())
        for g in work.table.column_grants(origin)
    ]
    return _grant_statements(
        sql.SQL("TABLE {}").format(sql.Identifier(schema, work.table.name)), grants
    )
