"""Rendering results for people (rich) and machines (JSON-ready dicts)."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from zdmigrate.spec import Migration

__all__ = ["OutputFormat", "apply_result", "migration_summary", "status_table"]


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
    rate = row.get("rows_per_s")
    running = row.get("phase") == "backfilling"
    speed = f", {rate:,.0f} rows/s" if rate and running else ""
    if running and row.get("throttle"):
        speed += f"; {row['throttle']}"
    if not total:
        return "-" if not done else f"{done:,}{speed}"
    return f"{done:,}/{total:,} ({min(100 * done / total, 100):.0f}%){speed}"


def status_table(rows: list[dict[str, Any]], console: Console) -> None:
    if not rows:
        console.print("no migrations yet")
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("migration", "phase", "tables", "backfill", "gate", "new app search_path"):
        table.add_column(col, overflow="fold")
    for row in rows:
        why = f": {row['paused_why']}" if row.get("paused_why") else ""
        phase = row["phase"] + (f" (paused{why})" if row.get("paused") else "")
        table.add_row(
            row["name"],
            phase,
            ", ".join(row.get("tables") or []),
            _progress(row),
            row.get("gate") or "-",
            row.get("search_path") or "-",
        )
    console.print(table)


def apply_result(result: Any, console: Console) -> None:
    """What ``apply`` did to one migration, and what to do next."""
    name = result.name
    if result.already == "completed":
        console.print(f"{name}: already completed", highlight=False)
        return
    if result.already:
        console.print(f"{name}: already {result.already}", highlight=False)
    else:
        console.print(f"{name}: expanded; old and new versions both work", highlight=False)
    if result.search_path:
        console.print(
            f"new app: connect with options=-c search_path={result.search_path}", highlight=False
        )
        spaced = result.search_path.replace(",", ", ")
        console.print(
            f"  through PgBouncer: SET search_path TO {spaced} (session pooling), SET LOCAL "
            "in each transaction (transaction pooling): docs/connecting.md",
            highlight=False,
        )
    if result.already != "completing":
        console.print(f"when the old version is gone: zdmigrate complete {name}", highlight=False)


class ProgressView:
    """Step lines and a backfill progress bar on a terminal; plain periodic lines otherwise."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._last_line = 0.0
        self._last_why = ""

    def __enter__(self) -> ProgressView:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("backfill {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} rows/s"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[pace]}"),
                console=self.console,
                transient=False,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def echo(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    def progress(self, p: Any) -> None:
        import time

        if self._bar is not None:
            task = self._tasks.get(p.table)
            if task is None:
                task = self._bar.add_task(p.table, total=p.rows_total or None, rate="0", pace="")
                self._tasks[p.table] = task
            total = max(p.rows_total or 0, p.rows_done) or None
            pace = f"waiting: {p.why}" if p.paused else p.throttle
            width = max(self.console.width - 70, 10)
            pace = pace if len(pace) <= width else pace[: width - 1] + "…"
            self._bar.update(
                task, completed=p.rows_done, total=total, rate=f"{p.rows_per_s:,.0f}", pace=pace
            )
            return
        now = time.monotonic()
        changed = p.why != self._last_why
        self._last_why = p.why
        if now - self._last_line >= 2.0 or changed or p.finished:
            self._last_line = now
            total = f"/{p.rows_total:,}" if p.rows_total else ""
            state = f" (waiting: {p.why})" if p.paused else ""
            part = f" ({p.part})" if p.part else ""
            pace = f"; {p.throttle}" if p.throttle and not p.paused else ""
            self.echo(
                f"backfill {p.table}{part}: {p.rows_done:,}{total} rows, "
                f"{p.rows_per_s:,.0f} rows/s, batch {p.batch_size}{state}{pace}"
            )


def gate_report(report: Any, console: Console) -> None:
    """One line per source, then its evidence (shortened to the terminal)."""
    window = f" (window {report.window_s:g} s)" if report.window_s else ""
    console.print(f"{report.migration}: gate {report.verdict}{window}", highlight=False)
    for src in report.sources:
        reason = f" ({src.reason})" if src.reason else ""
        note = ", does not block" if src in report.warnings else ""
        console.print(f"  {src.source}: {src.verdict}{note}{reason}", highlight=False)
        for item in src.evidence[:20]:
            console.print(f"    - {item['summary']}", highlight=False, overflow="ellipsis")
        if len(src.evidence) > 20:
            console.print(f"    ... and {len(src.evidence) - 20} more", highlight=False)
