"""``include_name`` and ``include_object`` for an Alembic ``env.py``: what zdmigrate adds
while a migration is in flight is not the team's schema, so autogenerate leaves it alone.

Two kinds of objects are left out:

- zdmigrate's own, by name: everything named ``_zdm_...`` (shadow and marker
  columns, the dual-write triggers and their functions, NOT VALID helper
  constraints, copied indexes and foreign keys, the write-counter sequences),
  the ``zdmigrate`` schema, and every version schema zdmigrate still keeps;
- what an in-flight migration is changing: the tables, columns, indexes and
  constraints whose old shape (the tables as they are until ``complete``)
  differs from the new one (the models once the team has moved them to it).
  Until ``complete`` both are right, so neither is proposed.

The last two are read once per autogenerate run from ``zdmigrate.migrations``,
on the connection Alembic compares with (through ``alembic.context``); a role
that cannot read that table gets the name rules only, and a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zdmigrate._phases import LIVE_PHASES
from zdmigrate.errors import ZdmError

__all__ = ["InFlight", "in_flight", "include_name", "include_object"]

PREFIX = "_zdm_"
STATE_SCHEMA = "zdmigrate"

_READABLE = """
SELECT has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT'),
       current_user
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'zdmigrate' AND c.relname = 'migrations'
"""
_ROWS = """
SELECT name, schema_name, phase, version_schema, version_schema_dropped, source, catalog
  FROM zdmigrate.migrations
"""


@dataclass
class InFlight:
    """What the hooks leave out, besides ``_zdm_`` names and the ``zdmigrate`` schema."""

    default_schema: str = "public"
    version_schemas: set[str] = field(default_factory=set)
    tables: set[tuple[str, str]] = field(default_factory=set)
    columns: set[tuple[str, str, str]] = field(default_factory=set)
    # index and constraint names, per (schema, table)
    names: set[tuple[str, str, str]] = field(default_factory=set)

    def schema(self, schema: str | None) -> str:
        return schema or self.default_schema


def _differs(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    return {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}


def _changes(found: InFlight, schema: str, before: Any, after: Any) -> None:
    """Record what differs between a schema before and after one migration."""
    for table in _differs(before.tables, after.tables):
        old, new = before.tables.get(table), after.tables.get(table)
        if old is None or new is None:
            found.tables.add((schema, table))
            continue
        old_cols = {c.name: c for c in old.columns}
        new_cols = {c.name: c for c in new.columns}
        found.columns |= {(schema, table, c) for c in _differs(old_cols, new_cols)}
        for attr in ("index_info", "foreign_keys", "checks", "constraints"):
            names = _differs(getattr(old, attr), getattr(new, attr))
            found.names |= {(schema, table, n) for n in names}


def read_in_flight(conn: Any) -> InFlight:
    """What zdmigrate keeps and changes in this database (a SQLAlchemy connection)."""
    from sqlalchemy import text

    found = InFlight(default_schema=conn.dialect.default_schema_name or "public")
    readable = conn.execute(text(_READABLE)).first()
    if readable is None:  # zdmigrate never ran in this database
        return found
    if not readable[0]:
        warnings.warn(
            f"zdmigrate: role {readable[1]} cannot read zdmigrate.migrations, so autogenerate "
            "may propose what an in-flight migration changes (GRANT USAGE ON SCHEMA "
            f"zdmigrate, SELECT ON zdmigrate.migrations TO {readable[1]})",
            stacklevel=2,
        )
        return found
    from zdmigrate.model.schema import catalog_from_json
    from zdmigrate.plan import replay
    from zdmigrate.spec import parse_migration

    for row in conn.execute(text(_ROWS)).mappings():
        kept = row["version_schema"] and not row["version_schema_dropped"]
        if kept and row["phase"] != "rolled_back":
            found.version_schemas.add(row["version_schema"])
        if row["phase"] not in LIVE_PHASES or row["catalog"] is None:
            continue
        before = catalog_from_json(row["catalog"])
        try:
            migration = parse_migration(row["source"], row["name"], f"{row['name']} (as applied)")
            after = replay(before, [migration])
        except ZdmError as exc:  # applied by a zdmigrate that read files differently
            warnings.warn(f"zdmigrate: {row['name']} left out: {exc.one_line()}", stacklevel=2)
            continue
        _changes(found, row["schema_name"], before, after)
    return found


_CACHE: dict[int, tuple[Any, InFlight]] = {}


def in_flight() -> InFlight | None:
    """The in-flight state for the connection Alembic is comparing with, read once per
    connection; None outside an Alembic run (``env.py`` not running)."""
    try:
        from alembic import context

        conn = context.get_bind()
    except (ImportError, NameError, AttributeError):
        return None
    cached = _CACHE.get(id(conn))
    if cached is not None and cached[0] is conn:
        return cached[1]
    _CACHE.clear()
    found = read_in_flight(conn)
    _CACHE[id(conn)] = (conn, found)
    return found


def _ours(name: str | None) -> bool:
    return bool(name) and str(name).startswith(PREFIX)


def include_name(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
    """Alembic's ``include_name`` hook: False for zdmigrate's schemas, tables and
    columns (reflected names only; ``include_object`` sees the rest)."""
    if name is None:
        return True
    if _ours(name):
        return False
    found = in_flight()
    if type_ == "schema":
        return name != STATE_SCHEMA and (found is None or name not in found.version_schemas)
    if found is None:
        return True
    if type_ == "table":
        schema = found.schema(parent_names.get("schema_name"))
        return schema != STATE_SCHEMA and (schema, name) not in found.tables
    if type_ == "column":
        schema = found.schema(parent_names.get("schema_name"))
        return (schema, parent_names.get("table_name"), name) not in found.columns
    return True


def _column_names(obj: Any) -> Iterable[str]:
    for col in getattr(obj, "columns", ()):
        name = getattr(col, "name", None)
        if name is not None:
            yield name
    for elem in getattr(obj, "elements", ()):  # a foreign key's local columns
        name = getattr(getattr(elem, "parent", None), "name", None)
        if name is not None:
            yield name


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's ``include_object`` hook: False for what zdmigrate added and for what an
    in-flight migration is changing (see the module's docstring)."""
    if _ours(name):
        return False
    found = in_flight()
    if type_ == "table":
        schema = getattr(obj, "schema", None)
        if schema == STATE_SCHEMA or (found and schema in found.version_schemas):
            return False
        return found is None or (found.schema(schema), name) not in found.tables
    table = getattr(obj, "table", None)
    if table is None:
        return True
    schema = found.schema(table.schema) if found else table.schema
    if schema == STATE_SCHEMA or (found and schema in found.version_schemas):
        return False
    if type_ == "column":
        return found is None or (schema, table.name, name) not in found.columns
    columns = list(_column_names(obj))
    if any(_ours(c) for c in columns):
        return False
    if found is None:
        return True
    if name is not None and (schema, table.name, name) in found.names:
        return False
    return not any((schema, table.name, c) in found.columns for c in columns)
