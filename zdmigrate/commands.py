"""One function per command: takes settings, returns a result, prints nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zdmigrate.config import Settings
from zdmigrate.engine import runner, state
from zdmigrate.engine.backfill import Progress
from zdmigrate.engine.db import connect, translate_errors
from zdmigrate.engine.introspect import introspect
from zdmigrate.engine.runner import ApplyResult, CleanupResult, PhaseResult
from zdmigrate.engine.store import Store
from zdmigrate.engine.verify import Verification
from zdmigrate.errors import ConfigError
from zdmigrate.gate import (
    GateOptions,
    GateReport,
    Ignored,
    contract_gate,
    rollback_check,
    run_gate,
    version_users_check,
)
from zdmigrate.model.schema import Catalog
from zdmigrate.model.step import Plan
from zdmigrate.plan import build_plan, replay, schema_for
from zdmigrate.spec import Migration, load_migration

__all__ = [
    "ApplyResult",
    "CleanupResult",
    "GateOptions",
    "Ignored",
    "InitReport",
    "PhaseResult",
    "PlanReport",
    "Progress",
    "SnapshotReport",
    "apply",
    "cleanup",
    "complete",
    "gate",
    "init",
    "pause",
    "plan",
    "rollback",
    "snapshot",
    "status",
    "validate",
    "verify",
]

Echo = Callable[[str], None]
ProgressFn = Callable[[Progress], None]


def validate(
    paths: list[str],
    settings: Settings | None = None,
    deep: bool = False,
    schema_file: str | None = None,
) -> list[Migration]:
    """Load every file; the first invalid one raises SpecError. ``deep``: also plan each
    against the schema (the database, a schema file, or the earlier files beside it),
    after the files given before it, so a missing table or column is found too."""
    migrations = [load_migration(p) for p in paths]
    if deep:
        settings = settings or Settings()
        given = schema_file is not None or bool(settings.database_url)
        base = _read_schema(settings, paths[0], schema_file)[0] if given and paths else None
        for index, (path, migration) in enumerate(zip(paths, migrations, strict=True)):
            if base is None:
                schema = schema_for(Path(path), settings.schema_name)
            else:
                schema = replay(base, migrations[:index])
            build_plan(migration, schema, settings.mode)
    return migrations


@dataclass(frozen=True)
class InitReport:
    before: int
    after: int

    def to_json(self) -> dict[str, Any]:
        return {"state_version_before": self.before, "state_version": self.after}


def init(settings: Settings) -> InitReport:
    with connect(settings.database_url) as conn, translate_errors("init"):
        result = state.init_state(conn)
    return InitReport(before=result.before, after=result.after)


def _search_path(row: dict[str, Any]) -> str | None:
    live = row["phase"] in ("expanding", "backfilling", "expanded", "completing", "completed")
    if row.get("version_schema_dropped"):
        return None
    if not live or not row["version_schema"]:
        return None
    return f"{row['version_schema']},{row['schema_name']}"


def status(settings: Settings) -> list[dict[str, Any]]:
    """Every known migration with its phase, progress and the new version's search_path."""
    with connect(settings.database_url) as conn, translate_errors("status"):
        rows = state.list_migrations(conn)
    out = []
    for row in rows:
        item = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        item["search_path"] = _search_path(row)
        out.append(item)
    return out


@dataclass
class PlanReport:
    plan: Plan
    migration: Migration
    source: str
    tables: dict[str, dict[str, Any]]

    @property
    def live(self) -> bool:
        return self.source == "database"

    def to_json(self) -> dict[str, Any]:
        p = self.plan
        return {
            "migration": p.migration,
            "mode": p.mode,
            "version_schema": p.version_schema,
            "search_path": p.search_path,
            "live": self.live,
            "schema_from": self.source,
            "deprecated": [d.to_json() for d in p.deprecated],
            "tables": self.tables,
            "phases": {
                "check": [s.to_json() for s in p.checks],
                "expand": [s.to_json() for s in p.expand],
                "backfill": [b.describe() for b in p.backfill],
                "validate": [s.to_json() for s in p.post_backfill],
                "verify": [v.describe() for v in p.verify],
                "contract": [s.to_json() for s in p.contract],
                "rollback": [s.to_json() for s in p.rollback],
            },
        }


def _read_schema(
    settings: Settings, path: str, schema_file: str | None
) -> tuple[Catalog, tuple[tuple[str, str], ...]]:
    """The schema to plan against, and the older version schemas contract would drop."""
    if settings.database_url and schema_file is None:
        with connect(settings.database_url) as conn, translate_errors("plan"):
            catalog = introspect(conn, settings.schema_name)
            older = _older_version_schemas(conn, load_migration(path).name, settings.schema_name)
        return catalog, older
    return schema_for(Path(path), settings.schema_name, schema_file), ()


def _older_version_schemas(conn: Any, name: str, schema: str) -> tuple[tuple[str, str], ...]:
    from zdmigrate.engine.state import state_version

    if state_version(conn) == 0:
        return ()
    return tuple(Store(conn).predecessors_to_drop(name, schema))


def plan(settings: Settings, path: str, schema_file: str | None = None) -> PlanReport:
    """The plan of one file: against the server when a URL is set, against a schema file
    (dump or snapshot) when one is given, else against what the earlier files create."""
    migration = load_migration(path)
    settings = for_migration(settings, migration)
    catalog, older = _read_schema(settings, path, schema_file)
    built = build_plan(migration, catalog, settings.mode, runner.timeouts(settings), older)
    backfilled = {b.table for b in built.backfill}
    tables = {
        name: _estimates(t.row_estimate, t.size_bytes or 0, name in backfilled)
        for name, t in catalog.tables.items()
        if name in built.tables and catalog.live
    }
    return PlanReport(built, migration, catalog.source, tables)


# Rates for estimates, from docs/performance.md (PostgreSQL 15, 2 cores, a narrow table):
# the backfill alone ran at 125,000-200,000 rows/s; beside a busy app the throttle gave
# way down to 29,000-84,000 rows/s. A backfill is shown as the range between the two.
BACKFILL_ROWS_PER_S_IDLE = 150_000
BACKFILL_ROWS_PER_S_BUSY = 50_000
SCAN_BYTES_PER_S = 100e6


def _estimates(rows: int | None, size: int, backfilled: bool) -> dict[str, Any]:
    """Row count (None: never analyzed), size, and rough durations of the long steps:
    a scan, and the backfill as [with the app idle, beside a busy app] in seconds."""
    out: dict[str, Any] = {"rows": rows, "bytes": size, "scan_s": round(size / SCAN_BYTES_PER_S, 1)}
    if backfilled and rows is not None:
        out["backfill_s"] = [
            round(rows / BACKFILL_ROWS_PER_S_IDLE, 1),
            round(rows / BACKFILL_ROWS_PER_S_BUSY, 1),
        ]
    return out


def apply(
    settings: Settings, migration: str | Migration, echo: Echo, progress: ProgressFn
) -> ApplyResult:
    """Expand and backfill a migration file (a path, or a migration already loaded)."""
    loaded = load_migration(migration) if isinstance(migration, str) else migration
    return runner.apply(for_migration(settings, loaded), loaded, echo, progress)


def for_migration(settings: Settings, migration: Migration) -> Settings:
    """The settings a migration runs with: its file's ``schema:`` wins over the
    settings' (``--schema``, ``[tool.zdmigrate] schema``), which are the default."""
    if migration.schema is None or migration.schema == settings.schema_name:
        return settings
    return settings.with_overrides(schema_name=migration.schema)


def complete(
    settings: Settings, name: str, echo: Echo, force: bool, options: GateOptions | None = None
) -> PhaseResult:
    """The gate, then contract; while the gate is blocked nothing changes (exit 1)."""
    given = options or GateOptions(window_s=settings.gate.window)
    gate_options = replace(given, force=force)
    check = contract_gate(gate_options, settings, echo)
    users = version_users_check(settings, gate_options.ignored)
    return runner.complete(settings, name, echo, check, users)


def cleanup(
    settings: Settings,
    echo: Echo,
    ignored: Ignored | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> CleanupResult:
    """Drop the older version schemas contract kept while sessions used them."""
    users = version_users_check(settings, ignored or Ignored())
    return runner.cleanup(settings, echo, users, force=force, dry_run=dry_run)


def gate(
    settings: Settings, name: str, options: GateOptions, echo: Echo = lambda line: None
) -> GateReport:
    """The gate's verdict on ``name``, with its evidence; contracts nothing."""

    def check(conn: Any, row: Any, plan: Plan) -> GateReport:
        return run_gate(settings, row, plan, options, echo)

    result: GateReport = runner.gate(settings, name, check)
    return result


def rollback(
    settings: Settings, name: str, echo: Echo, options: GateOptions | None = None
) -> PhaseResult:
    """The gate in the other direction (new-version clients block unless forced), then
    remove what expand added."""
    check = rollback_check(options or GateOptions(), settings, echo)
    return runner.rollback(settings, name, echo, check)


@dataclass(frozen=True)
class SnapshotReport:
    path: str
    schemas: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "schemas": self.schemas}


def snapshot(settings: Settings, path: str, schemas: list[str]) -> SnapshotReport:
    """Write the schema model of ``schemas`` (default: the configured one) to ``path``,
    for planning and linting without a database (``--schema-file``)."""
    from zdmigrate.model.snapshot import write_snapshot

    names = schemas or [settings.schema_name]
    with connect(settings.database_url) as conn, translate_errors("snapshot"):
        found = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
        missing = [n for n in names if n not in found]
        if missing:
            raise ConfigError(
                f"snapshot: schema '{missing[0]}' does not exist in the database",
                "give --schema with an existing schema (default: the configured one)",
            )
        catalogs = [introspect(conn, name) for name in names]
    write_snapshot(catalogs, path)
    return SnapshotReport(path, {c.schema: len(c.tables) for c in catalogs})


def pause(settings: Settings, name: str, paused: bool) -> PhaseResult:
    return runner.set_paused(settings, name, paused)


def verify(settings: Settings, name: str) -> Verification:
    return runner.verify(settings, name)
