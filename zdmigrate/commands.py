"""One function per command: takes settings, returns a result, prints nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zdmigrate._phases import LIVE_PHASES, WORKING_PHASES
from zdmigrate.config import Settings
from zdmigrate.engine import preflight, runner, state
from zdmigrate.engine.backfill import Progress
from zdmigrate.engine.db import connect, translate_errors
from zdmigrate.engine.introspect import introspect
from zdmigrate.engine.preflight import Check
from zdmigrate.engine.runner import ApplyResult, CleanupResult, PhaseResult
from zdmigrate.engine.store import Store
from zdmigrate.engine.verify import Verification
from zdmigrate.errors import ConfigError, MigrationEdited
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
from zdmigrate.plan import (
    build_plan_parts,
    build_plans,
    join_plan_parts,
    replay,
    schema_for,
)
from zdmigrate.spec import Migration, load_migration

__all__ = [
    "ApplyResult",
    "Check",
    "CleanupResult",
    "DryRun",
    "GateOptions",
    "Ignored",
    "InitReport",
    "NewReport",
    "PhaseResult",
    "PlanReport",
    "Progress",
    "SnapshotReport",
    "StatusReport",
    "apply",
    "apply_all",
    "cleanup",
    "complete",
    "dry_run",
    "gate",
    "init",
    "migration_files",
    "new",
    "pause",
    "plan",
    "rollback",
    "snapshot",
    "status",
    "status_report",
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
    paths = migration_files(paths)
    migrations = [load_migration(p) for p in paths]
    if deep:
        settings = settings or Settings()
        given = schema_file is not None or bool(settings.database_url)
        default = settings.schema_name
        schemas = list(dict.fromkeys(s for m in migrations for s, _ in m.split(default)))
        base: dict[str, Catalog] = {}
        if given and paths:
            if settings.database_url and schema_file is None:
                with connect(settings.database_url) as conn, translate_errors("validate"):
                    base = {s: introspect(conn, s) for s in schemas}
            else:
                base = {s: schema_for(Path(paths[0]), s, schema_file, default) for s in schemas}
        for index, (path, migration) in enumerate(zip(paths, migrations, strict=True)):

            def catalog_of(schema: str, index: int = index, path: str = path) -> Catalog:
                if not base:
                    return schema_for(Path(path), schema, None, default)
                return replay(base[schema], migrations[:index], default)

            build_plans(migration, catalog_of, default, settings.mode)
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
    version_schemas = row.get("version_schemas") or [row["version_schema"]]
    schemas = row.get("schemas") or [row["schema_name"]]
    return ",".join([*version_schemas, *schemas])


def _eta_s(row: dict[str, Any]) -> float | None:
    done, total, rate = row.get("rows_done") or 0, row.get("rows_total"), row.get("rows_per_s")
    if row["phase"] != "backfilling" or not total or not rate or not row.get("running"):
        return None
    return round(max(float(total) - done, 0.0) / float(rate), 1)


def _status_rows(conn: Any) -> list[dict[str, Any]]:
    out = []
    for row in state.list_migrations(conn):
        item = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        item["search_path"] = _search_path(row)
        item["eta_s"] = _eta_s(row)
        out.append(item)
    return out


def status(settings: Settings) -> list[dict[str, Any]]:
    """Every known migration with its phase, progress and the new version's search_path;
    ``running`` says whether a zdmigrate process works on it now."""
    with connect(settings.database_url) as conn, translate_errors("status"):
        return _status_rows(conn)


@dataclass(frozen=True)
class StatusReport:
    """What ``status --watch`` shows at each refresh."""

    migrations: list[dict[str, Any]]
    # the slowest replica's lag; None without replicas (or without the role to see them)
    replica_lag_s: float | None
    at: str
    max_replica_lag_s: float = 10.0  # over it, a backfill waits before its next batch

    @property
    def in_flight(self) -> bool:
        """Whether a zdmigrate process is at work on a migration (so watching shows more)."""
        return any(m["running"] and m["phase"] in WORKING_PHASES for m in self.migrations)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "in_flight": self.in_flight,
            "replica_lag_s": self.replica_lag_s,
            "max_replica_lag_s": self.max_replica_lag_s,
            "migrations": self.migrations,
        }


def status_report(settings: Settings) -> StatusReport:
    """``status`` with the replica lag and the server's time, read in one connection."""
    from zdmigrate.plan.backfill import REPLICA_LAG_SQL

    with connect(settings.database_url) as conn, translate_errors("status"):
        rows = _status_rows(conn)
        lag = conn.execute(REPLICA_LAG_SQL).fetchone()
        now = conn.execute("SELECT now()").fetchone()
    seconds = float(lag[0]) if lag and lag[0] is not None else None
    return StatusReport(
        rows, seconds, now[0].isoformat() if now else "", settings.max_replica_lag_s
    )


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
            "version_schemas": p.version_schemas,
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


def _read_schemas(
    settings: Settings, path: str, migration: Migration, schema_file: str | None
) -> tuple[dict[str, Catalog], tuple[tuple[str, str], ...]]:
    """The schema model of every schema the migration changes, and the older version
    schemas contract would drop."""
    default = settings.schema_name
    schemas = [schema for schema, _ in migration.split(default)]
    if settings.database_url and schema_file is None:
        with connect(settings.database_url) as conn, translate_errors("plan"):
            runner.missing_schemas(conn, migration, default)
            catalogs = {schema: introspect(conn, schema) for schema in schemas}
            older = _older_version_schemas(conn, migration.name, schemas)
        return catalogs, older
    offline = {s: schema_for(Path(path), s, schema_file, default) for s in schemas}
    return offline, ()


def _older_version_schemas(conn: Any, name: str, schemas: list[str]) -> tuple[tuple[str, str], ...]:
    from zdmigrate.engine.state import state_version

    if state_version(conn) == 0:
        return ()
    return tuple(Store(conn).predecessors_to_drop(name, schemas))


def plan(settings: Settings, path: str, schema_file: str | None = None) -> PlanReport:
    """The plan of one file: against the server when a URL is set, against a schema file
    (dump or snapshot) when one is given, else against what the earlier files create."""
    migration = load_migration(path)
    settings = for_migration(settings, migration)
    catalogs, older = _read_schemas(settings, path, migration, schema_file)
    built = build_plans(
        migration,
        catalogs.__getitem__,
        settings.schema_name,
        settings.mode,
        runner.timeouts(settings),
        older,
    )
    return _report(built, migration, catalogs)


def _report(built: Plan, migration: Migration, catalogs: dict[str, Catalog]) -> PlanReport:
    """The plan with the sizes and time estimates of its tables (read from a live catalog)."""
    backfilled = {(b.schema, b.table) for b in built.backfill}
    several = len(catalogs) > 1
    tables = {
        f"{schema}.{name}" if several else name: _estimates(
            t.row_estimate, t.size_bytes or 0, (schema, name) in backfilled
        )
        for schema, catalog in catalogs.items()
        for name, t in catalog.tables.items()
        if name in built.tables and catalog.live
    }
    source = next(iter(catalogs.values())).source
    return PlanReport(built, migration, source, tables)


# Rates for estimates, from docs/performance.md (PostgreSQL 15, 2 cores, a narrow table):
# the backfill alone ran at 125,000-200,000 rows/s; beside a busy app the throttle at its
# default (max_app_slowdown 0.1) gave way down to 8,000-19,000 rows/s. A backfill is shown
# as the range between the two.
BACKFILL_ROWS_PER_S_IDLE = 150_000
BACKFILL_ROWS_PER_S_BUSY = 10_000
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


MIGRATION_SUFFIXES = (".yaml", ".yml", ".json")


def migration_files(paths: list[str]) -> list[str]:
    """The migration files ``paths`` name, in order: a folder gives its files sorted by
    name (a numbered prefix orders them); each file once."""
    out: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in MIGRATION_SUFFIXES
            )
            if not found:
                raise ConfigError(
                    f"{given}: no migration files (.yaml, .yml, .json) in this folder",
                    "give the folder that holds them, or the files themselves",
                )
            out += [str(p) for p in found]
        elif not path.exists() and path.suffix.lower() not in MIGRATION_SUFFIXES:
            raise ConfigError(
                f"{given}: no such file or folder", "give migration files or their folder"
            )
        else:
            out.append(given)
    return list(dict.fromkeys(out))


def apply_all(
    settings: Settings, paths: list[str], echo: Echo, progress: ProgressFn
) -> list[ApplyResult]:
    """Apply the migration files ``paths`` name (files or folders), in order. Every file
    is read and validated first, so a bad one stops the run before anything changes;
    those an earlier apply expanded or completed are reported as such (``already``)."""
    migrations = [load_migration(p) for p in migration_files(paths)]
    results = []
    for migration in migrations:
        result = apply(settings, migration, echo, progress)
        if len(migrations) > 1:
            echo(
                f"{migration.name}: "
                + (f"already {result.already}" if result.already else result.phase)
            )
        results.append(result)
    return results


@dataclass(frozen=True)
class NewReport:
    path: str
    name: str
    created_folder: bool

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "name": self.name, "created_folder": self.created_folder}


def new(settings: Settings, name: str, folder: str | None, root: Path | None) -> NewReport:
    """Write a numbered migration file to fill in, in ``folder`` (default: the setting
    ``migrations_dir``, relative to ``root``, the folder of the pyproject.toml in use,
    else the working folder), numbered after the highest file there."""
    from zdmigrate.spec import skeleton

    stem = skeleton.slug(name)
    if not stem:
        raise ConfigError(
            f"new: '{name}' has no letter or digit to name a file with",
            "give a name such as add_users_country",
        )
    base = Path(folder) if folder is not None else (root or Path.cwd()) / settings.migrations_dir
    existing = [p.name for p in base.iterdir()] if base.is_dir() else []
    if base.exists() and not base.is_dir():
        raise ConfigError(f"new: {base} is not a folder", "give --dir a folder")
    filename = skeleton.file_name(skeleton.next_number(existing), stem)
    full = Path(filename).stem
    vschema = f"{settings.schema_name}_{full}"
    if len(vschema.encode()) > 63:
        raise ConfigError(
            f"new: '{full}' is too long: its version schema {vschema} would pass PostgreSQL's "
            "63-byte limit on names",
            f"give a name of at most {63 - len(vschema.encode()) + len(stem)} characters",
        )
    created = not base.exists()
    base.mkdir(parents=True, exist_ok=True)
    path = base / filename
    shown = _relative(path)
    try:
        with path.open("x", encoding="utf-8") as out:
            out.write(skeleton.skeleton(stem, shown))
    except FileExistsError:
        raise ConfigError(f"new: {shown} already exists", "run the command again") from None
    return NewReport(shown, full, created)


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@dataclass
class DryRun:
    """What ``apply --dry-run`` found for one file: its plan (None when an earlier apply
    expanded or completed it: ``already``) and the checks run without changing anything."""

    name: str
    path: str
    already: str | None
    report: PlanReport | None
    checks: list[Check]

    @property
    def go_ahead(self) -> bool:
        return all(c.verdict != "blocks" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "already": self.already,
            "go_ahead": self.go_ahead,
            "checks": [c.to_json() for c in self.checks],
            "plan": self.report.to_json() if self.report else None,
        }


def dry_run(settings: Settings, paths: list[str]) -> list[DryRun]:
    """What ``apply`` would do with ``paths`` now, and the checks that change nothing:
    another zdmigrate or migration at work, privileges, expressions, conflicting locks
    and old transactions, sizes and time estimates. The connection is read-only: nothing
    is written, not even zdmigrate's state schema. Each file is planned against the
    live schema as the files before it (not applied yet) would leave it."""
    migrations = [load_migration(p) for p in migration_files(paths)]
    out: list[DryRun] = []
    with connect(settings.database_url) as conn, translate_errors("apply --dry-run"):
        conn.execute("SET default_transaction_read_only = on")
        has_state = state.state_version(conn) > 0
        store = Store(conn) if has_state else None
        live: dict[str, Catalog] = {}
        pending: dict[str, list[Migration]] = {}
        for migration in migrations:
            s = for_migration(settings, migration)
            row = store.get(migration.name) if store else None
            try:
                done = runner.already(row, migration)
                if done is not None and row is not None and row.phase == "expanded":
                    done = None if runner.unfilled(conn, row) else done
            except MigrationEdited as exc:
                check = Check("state", "blocks", exc.message)
                out.append(DryRun(migration.name, migration.path, None, None, [check]))
                continue
            if (
                row is not None
                and row.phase in LIVE_PHASES
                and not runner.same_content(row, migration)
            ):
                message = f"{migration.path} changed after it was applied (phase {row.phase})"
                check = Check("state", "blocks", message)
                out.append(DryRun(migration.name, migration.path, None, None, [check]))
                continue
            if done is not None:
                check = Check("state", "ok", f"already {done.already}: nothing to do")
                out.append(DryRun(migration.name, migration.path, done.already, None, [check]))
                continue
            split = migration.split(s.schema_name)
            catalogs: dict[str, Catalog] = {}
            for schema, _ in split:
                if schema not in live:
                    live[schema] = introspect(conn, schema)
                earlier = pending.setdefault(schema, [])
                catalogs[schema] = replay(live[schema], earlier) if earlier else live[schema]
            schemas = [schema for schema, _ in split]
            # the plan that runs (the stored one once applied), checked schema by schema
            timeouts = runner.timeouts(s)
            applied = row is not None and row.phase in LIVE_PHASES
            stored = runner.stored_plan(row, s) if row is not None and applied else None
            older = (
                ()
                if applied or not store
                else tuple(store.predecessors_to_drop(migration.name, schemas))
            )
            parts = (
                [(schemas[0], stored)]
                if stored is not None and len(split) == 1
                else build_plan_parts(
                    migration, catalogs.__getitem__, s.schema_name, s.mode, timeouts, older
                )
            )
            if stored is not None:
                built = stored
            elif len(parts) == 1:
                built = parts[0][1]
            else:
                built = join_plan_parts(migration, [p for _, p in parts], s.mode, timeouts, older)
            checks: list[Check] = []
            for schema, part_plan in parts:
                checks += preflight.state_checks(
                    conn, store, migration.name, schema, part_plan, row
                )
                checks += preflight.privilege_checks(
                    conn, schema, part_plan, live[schema], has_state
                )
            checks.append(preflight.expression_check(conn, built))
            for schema, part_plan in parts:
                checks += preflight.lock_checks(conn, s, schema, part_plan)
            report = _report(built, migration, catalogs)
            checks.append(_estimate_check(report))
            for schema, part in split:
                pending[schema].append(part)
            out.append(DryRun(migration.name, migration.path, None, report, checks))
    return out


def _estimate_check(report: PlanReport) -> Check:
    """Sizes and how long the backfill and the scans would take, as a note."""
    parts = []
    for name, t in report.tables.items():
        rows = "rows unknown (never analyzed)" if t["rows"] is None else f"~{t['rows']:,} rows"
        part = f"{name}: {rows}, {t['bytes'] / 1e6:.1f} MB"
        if "backfill_s" in t:
            low, high = t["backfill_s"]
            part += f", backfill ~{low:g} s (app idle) to ~{high:g} s (busy app)"
        parts.append(part)
    scans = sum(
        report.tables.get(table, {}).get("scan_s", 0)
        for step in report.plan.post_backfill
        if step.scans
        for table in step.tables
    )
    if scans:
        parts.append(f"validation scans ~{scans:g} s")
    return Check("estimates", "note", "; ".join(parts) or "no existing table is changed")


def for_migration(settings: Settings, migration: Migration) -> Settings:
    """The settings a migration runs with: its file's ``schema:`` wins over the
    settings' (``--schema``, ``[tool.zdmigrate] schema``), which are the default; a
    file whose tables are all qualified with one schema runs in that schema."""
    split = migration.split(settings.schema_name)
    schema = migration.schema or (split[0][0] if len(split) == 1 else None)
    if schema is None or schema == settings.schema_name:
        return settings
    return settings.with_overrides(schema_name=schema)


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
