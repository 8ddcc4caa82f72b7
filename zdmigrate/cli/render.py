"""Rendering results for people (rich) and machines (JSON-ready dicts)."""

from __future__ import annotations

import enum
from typing import Any

from rich.console import Console
from rich.table import Table

from zdmigrate.spec import Migration

__all__ = ["OutputFormat", "migration_summary", "status_table"]


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"


def migration_summary(m: Migration) -> dict[str, Any]:
    return {
        "name": m.name,
        "path": m.path,
        "sha256": m.sha256,
        "operations": [
            {"op": type(op).model_fields["op"].default, **op.model_dump(by_alias=True)}
            for op in m.operations
        ],
    }


def _progress(row: dict[str, Any]) -> str:
    total = row.get("rows_total")
    done = row.get("rows_done") or 0
    if not total:
        return "-" if not done else f"{done:,}"
    return f"{done:,}/{total:,} ({100 * done / total:.0f}%)"


def status_table(rows: list[dict[str, Any]], console: Console) -> None:
    if not rows:
        console.print("no migrations yet")
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("migration", "phase", "tables", "backfill", "new app search_path"):
        table.add_column(col, overflow="fold")
    for row in rows:
        phase = row["phase"] + (" (paused)" if row.get("paused") else "")
        table.add_row(
            row["name"],
            phase,
            ", ".join(row.get("tables") or []),
            _progress(row),
            row.get("search_path") or "-",
        )
    console.print(table)
