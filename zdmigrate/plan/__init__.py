"""Planning: a migration file and a schema model in, a Plan out. No I/O but reading files.

The public functions here are what every planner uses: ``commands`` (plan,
apply), ``lint`` (the SQL of a migration file) and tests.
"""

from __future__ import annotations

import copy
from pathlib import Path

from zdmigrate.model.schema import Catalog
from zdmigrate.model.step import Lock, Phase, Plan, Step
from zdmigrate.ops import apply_operation
from zdmigrate.plan.builder import Timeouts, build_plan
from zdmigrate.spec import Migration, load_migration

__all__ = [
    "MIGRATION_SUFFIXES",
    "Lock",
    "Phase",
    "Plan",
    "Step",
    "Timeouts",
    "build_plan",
    "earlier_files",
    "offline_schema",
    "plan_file",
    "replay",
    "schema_for",
]

MIGRATION_SUFFIXES = (".yaml", ".yml", ".json")


def earlier_files(path: Path) -> list[Migration]:
    """The migration files beside ``path`` that sort before it (they ran earlier)."""
    siblings = sorted(p for p in path.parent.iterdir() if p.suffix.lower() in MIGRATION_SUFFIXES)
    return [load_migration(p) for p in siblings if p.name < path.name]


def offline_schema(schema: str, earlier: list[Migration]) -> Catalog:
    """The schema as earlier migration files leave it once completed."""
    return replay(Catalog(schema), earlier)


def replay(catalog: Catalog, migrations: list[Migration]) -> Catalog:
    """A copy of ``catalog`` as ``migrations`` leave it once completed."""
    out = copy.deepcopy(catalog)
    for migration in migrations:
        for op in migration.operations:
            apply_operation(op, out)
    return out


def schema_for(path: Path, schema: str, schema_file: str | None = None) -> Catalog:
    """The schema ``path`` is planned against without a database: the schema file if one
    is given (a ``pg_dump --schema-only`` dump or a ``zdmigrate snapshot``), else what
    the earlier migration files beside it create."""
    if schema_file is not None:
        from zdmigrate.model.snapshot import load_schema_file

        return load_schema_file(schema_file, schema)
    # an earlier file naming another schema changes tables there, not here
    earlier = [m for m in earlier_files(path) if (m.schema or schema) == schema]
    return offline_schema(schema, earlier)


def plan_file(
    path: Path,
    *,
    schema: str = "public",
    schema_file: str | None = None,
    catalog: Catalog | None = None,
    mode: str = "version",
    timeouts: Timeouts = Timeouts(),
) -> Plan:
    """The plan of one migration file against ``catalog`` (a schema already read), else
    against ``schema_file`` or the earlier files (``schema_for``)."""
    migration = load_migration(path)
    schema = migration.schema or schema
    schema_model = catalog if catalog is not None else schema_for(path, schema, schema_file)
    return build_plan(migration, schema_model, mode, timeouts)
