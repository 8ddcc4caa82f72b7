"""The version schema: one view per table, in the new version's shape."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from zdmigrate._versions import version_schema_name
from zdmigrate.model.schema import Grant, GrantChange
from zdmigrate.ops import TableWork, ViewColumn
from zdmigrate.plan.grants import schema_usage_sql, view_grants, view_grants_sql

__all__ = ["version_schema_name", "views_sql"]


def _view_sql(
    version_schema: str,
    schema: str,
    table: str,
    name: str,
    cols: list[ViewColumn],
    invoker: bool,
    table_defaults: frozenset[str] = frozenset(),
) -> str:
    select = sql.SQL(", ").join(
        sql.Identifier(c.source)
        if c.source == c.name
        else sql.SQL("{} AS {}").format(sql.Identifier(c.source), sql.Identifier(c.name))
        for c in cols
    )
    options = sql.SQL(" WITH (security_invoker = true)" if invoker else "")
    view = sql.Identifier(version_schema, name)
    stmt = sql.SQL("CREATE VIEW {}{} AS SELECT {} FROM {};").format(
        view, options, select, sql.Identifier(schema, table)
    )
    lines = [stmt.as_string()]
    for c in cols:
        default = c.default
        if default is None and c.source in table_defaults:
            # Without a default of its own, a view column takes the table's, which the
            # new version dropped. PostgreSQL discards a plain NULL default, so use an
            # expression it keeps.
            default = f"NULLIF(CAST(NULL AS {c.type}), NULL)"
        if default is not None:
            lines.append(
                sql.SQL("ALTER VIEW {} ALTER COLUMN {} SET DEFAULT {};")
                .format(view, sql.Identifier(c.name), sql.SQL(default))
                .as_string()
            )
    return "\n".join(lines)


def views_sql(
    version_schema: str,
    schema: str,
    works: list[TableWork],
    server_major: int,
    default_grants: list[Grant] | None = None,
    grant_changes: Sequence[GrantChange] = (),
) -> str:
    """CREATE SCHEMA, every view of the version schema, and the grants that follow the
    tables (``default_grants``: what a table the migration creates is granted;
    ``grant_changes``: the GRANTs and REVOKEs of the migration's sql operations, which
    run before the views are created)."""
    parts = [sql.SQL("CREATE SCHEMA {};").format(sql.Identifier(version_schema)).as_string()]
    invoker = server_major >= 15
    grants: list[str] = []
    grantees: set[str] = set()
    for w in sorted(works, key=lambda w: w.new_name):
        if not w.dropped:
            table_grants = (default_grants or []) if w.created else w.table.grants
            for change in grant_changes:
                if change.table == w.table.name:
                    table_grants = change.applied(table_grants)
            given = view_grants(w, table_grants)
            grantees |= {g.grantee for g in given}
            grants += view_grants_sql(version_schema, w.new_name, given)
            defaults = frozenset(c.name for c in w.table.columns if c.default is not None)
            parts.append(
                _view_sql(
                    version_schema,
                    schema,
                    w.table.name,
                    w.new_name,
                    w.view_columns,
                    invoker,
                    defaults,
                )
            )
    parts += schema_usage_sql(version_schema, grantees) + grants
    return "\n".join(parts)
