"""How a migration's version schema is named, and what selects it on a connection.

Kept apart and light: applications import it (``zdmigrate.sqlalchemy``,
``zdmigrate.psycopg``) without the planner's imports. The statements are plain
text with their values quoted here, so that any driver (psycopg, psycopg2,
asyncpg through SQLAlchemy) sends them as they are.
"""

from __future__ import annotations

import re

__all__ = [
    "declare_sql",
    "search_path",
    "select_sql",
    "startup_options",
    "version_schema_name",
]

_NAME = re.compile(r"[\w.-]+")
_BARE = re.compile(r"[a-z_][a-z0-9_]*")


def version_schema_name(schema: str, migration: str) -> str:
    """``<schema>_<migration>``, lower case, safe as a bare search_path entry, <= 63 bytes."""
    clean = re.sub(r"[^a-z0-9_]+", "_", f"{schema}_{migration}".lower()).strip("_")
    return clean[:63]


def _checked(migration: str) -> str:
    if not _NAME.fullmatch(migration):
        raise ValueError(
            f"'{migration}' is not a migration name: give the migration file's stem "
            "(letters, digits, '_', '.', '-'), e.g. '0004_orders_amount_bigint'"
        )
    return migration


def _ident(name: str) -> str:
    return name if _BARE.fullmatch(name) else '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def search_path(schema: str, migration: str) -> str:
    """The new version's search_path: its version schema, then the tables' schema."""
    return f"{version_schema_name(schema, _checked(migration))},{_ident(schema)}"


def select_sql(schema: str, migration: str, *, local: bool = False) -> str:
    """One statement that puts the session (``local``: the transaction, as ``SET LOCAL``)
    on the migration's version: its search_path and ``zdmigrate.version``."""
    scope = "true" if local else "false"
    path = _literal(search_path(schema, migration))
    return (
        f"SELECT set_config('search_path', {path}, {scope}), "
        f"set_config('zdmigrate.version', {_literal(migration)}, {scope})"
    )


def declare_sql(migration: str) -> str:
    """Append ``version=<migration>`` to the session's application_name, which the gate
    reads (another session's settings cannot be read)."""
    tag = _literal(f"version={_checked(migration)}")
    return (
        "SELECT set_config('application_name', concat_ws(' ', "
        f"nullif(current_setting('application_name'), ''), {tag}), false)"
    )


def startup_options(schema: str, migration: str) -> str:
    """libpq ``options`` (or ``PGOPTIONS``) that start a session on the version."""
    path = search_path(schema, migration).replace("\\", "\\\\").replace(" ", "\\ ")
    return f"-c search_path={path} -c zdmigrate.version={migration}"
