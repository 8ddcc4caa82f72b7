"""One function per command: takes settings, returns a result, prints nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zdmigrate.config import Settings
from zdmigrate.engine import runner, state
from zdmigrate.engine.backfill import Progress
from zdmigrate.engine.catalog import introspect
from zdmigrate.engine.db import connect, translate_errors
from zdmigrate.engine.verify import Verification
from zdmigrate.gate import contract_gate
from zdmigrate.plan.builder import build_plan
from zdmigrate.plan.step import Plan
from zdmigrate.spec import Migration, load_migration

__all__ = [
    "InitReport",
    "PlanReport",
    "apply",
    "complete",
    "init",
    "pause",
    "plan",
    "rollback",
    "status",
    "validate",
    "verify",
]

Echo = Callable[[str], None]
ProgressFn = Callable[[Progress], None]


def validate(paths: list[str]) -> list[Migration]:
    """Load every file; the first invalid one raises SpecError."""
    return [load_migration(p) for p in paths]


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
    live: bool
    tables: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        p = self.plan
        return {
            "migration": p.migration,
            "mode": p.mode,
            "version_schema": p.version_schema,
            "search_path": f"{p.version_schema},{self.schema}" if p.version_schema else None,
            "live": self.live,
            "tables": self.tables,
            "phases": {
                "expand": [s.to_json() for s in p.expand],
                "backfill": [
                    {"table": b.table, "key": list(b.key), "columns": [a[0] for a in b.assignments]}
                    for b in p.backfill
                ],
                "validate": [s.to_json() for s in p.post_backfill],
                "contract": [s.to_json() for s in p.contract],
                "rollback": [s.to_json() for s in p.rollback],
            },
        }

    @property
    def schema(self) -> str:
        return self.plan.version_schema.split("_", 1)[0] if self.plan.version_schema else "public"


def earlier_files(path: Path) -> list[Migration]:
    """The migration files beside ``path`` that sort before it (they ran earlier)."""
    siblings = sorted(
        p for p in path.parent.iterdir() if p.suffix.lower() in (".yaml", ".yml", ".json")
    )
    return [load_migration(p) for p in siblings if p.name < path.name]


def plan(settings: Settings, path: str) -> PlanReport:
    """The plan of one file: against the server when a URL is set, else offline."""
    migration = load_migration(path)
    if settings.database_url:
        with connect(settings.database_url) as conn, translate_errors("plan"):
            catalog = introspect(conn, settings.schema_name)
    else:
        catalog = runner.offline_catalog(settings.schema_name, earlier_files(Path(path)))
    built = build_plan(migration, catalog, settings.mode)
    backfilled = {b.table for b in built.backfill}
    tables = {
        name: _estimates(t.row_estimate, t.size_bytes or 0, name in backfilled)
        for name, t in catalog.tables.items()
        if name in built.tables and catalog.live
    }
    return PlanReport(built, migration, catalog.live, tables)


# Conservative rates for estimates, well under what bench/backfill.py measures here.
BACKFILL_ROWS_PER_S = 50_000
SCAN_BYTES_PER_S = 100e6


def _estimates(rows: int | None, size: int, backfilled: bool) -> dict[str, Any]:
    """Row count (None: never analyzed), size, and rough durations of the long steps."""
    out: dict[str, Any] = {"rows": rows, "bytes": size, "scan_s": round(size / SCAN_BYTES_PER_S, 1)}
    if backfilled and rows is not None:
        out["backfill_s"] = round(rows / BACKFILL_ROWS_PER_S, 1)
    return out


def apply(settings: Settings, path: str, echo: Echo, progress: ProgressFn) -> runner.ApplyResult:
    return runner.apply(settings, load_migration(path), echo, progress)


def complete(settings: Settings, name: str, echo: Echo, force: bool) -> runner.PhaseResult:
    return runner.complete(settings, name, echo, contract_gate(force))


def rollback(settings: Settings, name: str, echo: Echo) -> runner.PhaseResult:
    return runner.rollback(settings, name, echo)


def pause(settings: Settings, name: str, paused: bool) -> runner.PhaseResult:
    return runner.set_paused(settings, name, paused)


def verify(settings: Settings, name: str) -> Verification:
    return runner.verify(settings, name)
