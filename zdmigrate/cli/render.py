"""Rendering results for people (rich) and machines (JSON-ready dicts)."""

from __future__ import annotations

import enum
import json
import sys
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from zdmigrate.redact import redact

if TYPE_CHECKING:
    from zdmigrate.spec import Migration

__all__ = [
    "OutputFormat",
    "apply_result",
    "dry_run",
    "migration_summary",
    "status_table",
    "status_view",
    "watch_status",
    "watch_view",
]


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


def _duration(seconds: float) -> str:
    whole = int(seconds + 0.5)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def _progress(row: dict[str, Any]) -> str:
    total = row.get("rows_total")
    done = row.get("rows_done") or 0
    rate = row.get("rows_per_s")
    running = row.get("phase") == "backfilling"
    speed = f", {rate:,.0f} rows/s" if rate and running else ""
    if row.get("eta_s") is not None:
        speed += f", about {_duration(row['eta_s'])} left"
    if running and row.get("throttle"):
        speed += f"; {row['throttle']}"
    if not total:
        return "-" if not done else f"{done:,}{speed}"
    # the total is the planner's estimate: never below what is done
    total = max(total, done)
    return f"{done:,}/{total:,} ({100 * done / total:.0f}%){speed}"


# the command that works on a migration in each phase, and resumes it when run again
_WORKING = {
    "expanding": "apply",
    "backfilling": "apply",
    "completing": "complete",
    "rolling_back": "rollback",
}
_HEADERS = ("migration", "phase", "tables", "backfill", "gate", "new app search_path")
# the columns whose values are names: broken only after a comma, never inside a name
_NAMES = (0, 2, 5)


def _phase(row: dict[str, Any]) -> str:
    why = f": {row['paused_why']}" if row.get("paused_why") else ""
    phase = str(row["phase"]) + (f" (paused{why})" if row.get("paused") else "")
    if row["phase"] in _WORKING and row.get("running") is False:
        phase += f" (stopped: 'zdmigrate {_WORKING[row['phase']]}' resumes it)"
    return phase


def _cells(row: dict[str, Any]) -> list[str]:
    return [
        row["name"],
        _phase(row),
        ", ".join(row.get("tables") or []),
        _progress(row),
        row.get("gate") or "-",
        row.get("search_path") or "-",
    ]


def _fit(value: str, room: int, names: bool) -> list[str]:
    """``value`` in lines of at most ``room`` characters where it can be: prose breaks
    at spaces, a list of names only after its commas; a longer name stays whole."""
    if not names:
        return textwrap.wrap(value, room, break_long_words=False, break_on_hyphens=False) or [""]
    sep = ", " if ", " in value else ","
    lines: list[str] = []
    for part in value.split(sep):
        if lines and len(lines[-1]) + len(sep) + len(part) <= room:
            lines[-1] += sep + part
        else:
            if lines:
                lines[-1] += sep.rstrip()
            lines.append(part)
    return lines


def _blocks(rows: list[list[str]], width: int) -> Text:
    """One block per migration, for a terminal too narrow for the table."""
    label = max(len(h) for h in _HEADERS[2:]) + 2
    out: list[str] = []
    for cells in rows:
        out += _fit(f"{cells[0]}: {cells[1]}", width, names=False)
        for index in range(2, len(cells)):
            head = f"  {_HEADERS[index]}".ljust(label + 2)
            room = width - len(head)
            parts = _fit(cells[index], room, index in _NAMES) if room >= 20 else []
            if room < 20 or max(len(p) for p in parts) > room:
                out.append(head.rstrip())
                parts = _fit(cells[index], width - 4, index in _NAMES)
                indent = " " * min(4, max(width - max(len(p) for p in parts), 0))
                out += [indent + p for p in parts]
            else:
                out.append(head + parts[0])
                out += [" " * len(head) + p for p in parts[1:]]
    return Text("\n".join(out))


def status_view(rows: list[dict[str, Any]], width: int) -> RenderableType:
    """The migrations as a table when it fits ``width`` without breaking a name, else
    one block per migration whose lines break between words and after commas only."""
    if not rows:
        return Text("no migrations yet")
    cells = [_cells(row) for row in rows]
    widths = _widths(cells, width)
    if widths is None:
        return _blocks(cells, width)
    table = Table(show_edge=False, pad_edge=False)
    for index, header in enumerate(_HEADERS):
        table.add_column(header, width=widths[index], no_wrap=index in _NAMES, overflow="fold")
    for row in cells:
        table.add_row(*row)
    return table


def _widths(cells: list[list[str]], width: int) -> list[int] | None:
    """Column widths that keep each name whole and break prose between words only;
    None when ``width`` is too narrow for that. What is left over goes to the prose
    columns, in proportion to what more they would take to fit on one line."""
    room = width - 3 * (len(_HEADERS) - 1)  # the rules between columns, with padding
    natural, least = [], []
    for index, header in enumerate(_HEADERS):
        values = [header, *(c[index] for c in cells)]
        natural.append(max(len(v) for v in values))
        if index in _NAMES:
            least.append(natural[-1])
        else:
            least.append(max(len(w) for v in values for w in v.split()))
    spare = room - sum(least)
    if spare < 0:
        return None
    wants = [n - m for n, m in zip(natural, least, strict=True)]
    total = sum(wants)
    if total <= spare:
        return natural
    out = [m + spare * w // total for m, w in zip(least, wants, strict=True)]
    return out


def status_table(rows: list[dict[str, Any]], console: Console) -> None:
    console.print(status_view(rows, console.width), soft_wrap=True)


def watch_view(report: Any, width: int, interval: float) -> RenderableType:
    """One refresh of ``status --watch``: when, the migrations, the replica lag."""
    from rich.console import Group

    lag = report.replica_lag_s
    replicas = f"replica lag {lag:.1f} s" if lag is not None else "no replica lag seen"
    if lag is not None and lag > report.max_replica_lag_s:
        replicas += f" > {report.max_replica_lag_s:g} s: backfills wait for the replicas"
    head = f"{report.at[:19].replace('T', ' ')}  every {interval:g} s, Ctrl-C stops; {replicas}"
    lines = _fit(head, width, names=False)
    if not report.in_flight:
        lines.append("no zdmigrate process at work on a migration: watching stops")
    return Group(Text("\n".join(lines)), status_view(report.migrations, width))


def watch_status(
    fetch: Callable[[], Any], interval: float, console: Console, as_json: bool = False
) -> None:
    """``status --watch``: a live view on a terminal, else one block (or one JSON line)
    per refresh; ends when no zdmigrate process is at work on a migration (an expanded
    migration waiting for ``complete`` is nobody's work), or at Ctrl-C."""
    import time

    try:
        if console.is_terminal and not as_json:
            from rich.live import Live

            with Live(console=console, auto_refresh=False, transient=False) as live:
                while True:
                    report = fetch()
                    live.update(watch_view(report, console.width, interval), refresh=True)
                    if not report.in_flight:
                        return
                    time.sleep(interval)
        while True:
            report = fetch()
            if as_json:
                sys.stdout.write(redact(json.dumps(report.to_json(), default=str)) + "\n")
                sys.stdout.flush()
            else:
                console.print(watch_view(report, console.width, interval), soft_wrap=True)
                console.print()
                console.file.flush()
            if not report.in_flight:
                return
            time.sleep(interval)
    except KeyboardInterrupt:  # the way to stop watching: not an error
        return


def dry_run(found: list[Any], console: Console) -> None:
    """Each file's plan (as ``plan`` shows it), then its checks and the verdict."""
    from zdmigrate.cli.plan_render import plan_text

    for index, item in enumerate(found):
        if index:
            console.print()
        if item.report is not None:
            console.print(plan_text(item.report), markup=False, highlight=False)
            console.print()
        console.print(f"Checks of {item.name} (nothing was changed):", highlight=False)
        for check in item.checks:
            console.print(
                f"  {check.verdict:<7}{check.name}: {check.summary}", markup=False, highlight=False
            )
            for extra in check.evidence[1:6]:
                console.print(f"           - {extra['summary']}", markup=False, highlight=False)
        blocked = [c.name for c in item.checks if c.verdict == "blocks"]
        if item.already:
            verdict = f"{item.name}: already {item.already}; apply does nothing"
        elif blocked:
            verdict = f"{item.name}: apply would not go ahead now ({', '.join(blocked)})"
        else:
            verdict = f"{item.name}: apply would go ahead"
        console.print(verdict, highlight=False)


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
            total = f"/{max(p.rows_total, p.rows_done):,}" if p.rows_total else ""
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
    for what in report.todo():
        console.print(f"  to do: {what}", highlight=False)
