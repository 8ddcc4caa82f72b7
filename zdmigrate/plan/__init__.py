"""Planning: a migration file and a schema model in, a Plan out. No I/O but reading files.

The public functions here are what every planner uses: ``commands`` (plan,
apply), ``lint`` (the SQL of a migration file) and tests.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

from zdmigrate.model.schema import Catalog
from zdmigrate.model.step import Lock, Phase, Plan, Step
from zdmigrate.ops import apply_operation
from zdmigrate.plan.builder import (
    Timeouts,
    build_plan,
    build_plan_parts,
    build_plans,
    join_plan_parts,
    search_path,
)
from zdmigrate.spec import Migration, load_migration

__all__ = [
    "MIGRATION_SUFFIXES",
    "Lock",
    "Phase",
    "Plan",
    "Step",
    "Timeouts",
    "build_plan",
    "build_plan_parts",
    "build_plans",
    "earlier_files",
    "join_plan_parts",
    "offline_schema",
    "plan_file",
    "replay",
    "schema_for",
    "search_path",
]

MIGRATION_SUFFIXES = (".yaml", ".yml", ".json")


def earlier_files(path: Path) -> list[Migration]:
    """The migration files beside ``path`` that sort before it (they ran earlier)."""
    siblings = sorted(p for p in path.parent.iterdir() if p.suffix.lower() in MIGRATION_SUFFIXES)
    return [load_migration(p) for p in siblings if p.name < path.name]


def offline_schema(schema: str, earlier: list[Migration], default: str | None = None) -> Catalog:
    """The schema as earlier migration files leave it once completed (``default``: the
    schema of their unqualified tables, when they name none; default ``schema``)."""
    return replay(Catalog(schema), earlier, default)


def replay(catalog: Catalog, migrations: list[Migration], default: str | None = None) -> Catalog:
    """A copy of ``catalog`` as ``migrations`` leave it once completed: the operations
    on its schema's tables (``default``: where unqualified tables are, if a file does not
    say; default the catalog's schema)."""
    out = copy.deepcopy(catalog)
    for migration in migrations:
        for schema, part in migration.split(default or catalog.schema):
            if schema != out.schema:
                continue  # a part on another schema changes tables there, not here
            for op in part.operations:
                apply_operation(op, out)
    return out


def schema_for(
    path: Path, schema: str, schema_file: str | None = None, default: str | None = None
) -> Catalog:
    """Schema ``schema`` as ``path`` is planned against it without a database: the
    schema file if one is given (a ``pg_dump --schema-only`` dump or a ``zdmigrate
    snapshot``), else what the earlier migration files beside it create there
    (``default``: the schema of their unqualified tables; default ``schema``)."""
    if schema_file is not None:
        from zdmigrate.model.snapshot import load_schema_file

        return load_schema_file(schema_file, schema)
    return offline_schema(schema, earlier_files(path), default)


def plan_file(
    path: Path,
    *,
    schema: str = "public",
    schema_file: str | None = None,
    catalog: Catalog | None = None,
    mode: str = "version",
    timeouts: Timeouts = Timeouts(),
    live: Callable[[str], Catalog | None] | None = None,
) -> Plan:
    """The plan of one migration file against ``catalog`` (a schema already read), else
    against ``schema_file`` or the earlier files (``schema_for``); ``schema``: where its
    unqualified tables are, if it does not say. The other schemas a migration spans are
    read from ``live`` (a schema's model from a database, None without one), else from
    ``schema_file`` or the earlier files."""
    migration = load_migration(path)

    def catalog_of(name: str) -> Catalog:
        if catalog is not None and catalog.schema == name:
            return catalog
        read = live(name) if live is not None else None
        return read if read is not None else schema_for(path, name, schema_file, schema)

    return build_plans(migration, catalog_of, schema, mode, timeouts)
