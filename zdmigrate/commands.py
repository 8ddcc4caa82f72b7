"""One function per command: takes settings, returns a result, prints nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zdmigrate.config import Settings
from zdmigrate.engine import state
from zdmigrate.engine.db import connect, translate_errors
from zdmigrate.spec import Migration, load_migration

__all__ = ["InitReport", "init", "status", "validate"]


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
    live = row["phase"] in ("expanding", "expanded", "backfilling", "backfilled")
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
