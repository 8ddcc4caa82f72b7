"""``zdmigrate demo`` on screen: a live panel on a terminal, plain lines otherwise;
then the summary (one line per version, the gate, the comparison)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from zdmigrate.demo import CHANGE_NAME
from zdmigrate.demo.report import PICTURE_HINT

if TYPE_CHECKING:
    from zdmigrate.demo import Board, DemoResult, LiveStatus
    from zdmigrate.demo.report import ReportFiles

__all__ = ["DemoView", "print_summary"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def _backfill(status: LiveStatus) -> str:
    if status.backfill is None:
        return "-"
    if status.phase != "backfill":
        return "done"
    done, total = status.backfill
    if not total:
        return f"{done:,} rows"
    return f"{done:,}/{total:,} rows ({min(100 * done / total, 100):.0f}%)"


class DemoView:
    """On a terminal: a panel redrawn 4 times a second (phase, backfill, requests/s,
    failures and p99 per version, the longest lock wait) below the step lines.
    Otherwise: the step lines and a status line every 2 s."""

    def __init__(self, console: Console, board: Board) -> None:
        self.console, self.board = console, board
        self._live: Any = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> DemoView:
        if self.console.is_terminal:
            from rich.live import Live

            self._live = Live(
                console=self.console,
                get_renderable=self._panel,
                refresh_per_second=4,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        else:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.stop()
        if self._ticker is not None:
            self._ticker.join()

    def echo(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    def progress(self, p: Any) -> None:
        """The board shows the backfill; nothing more to do here."""

    def _tick(self) -> None:
        while not self._stop.wait(2.0):
            status = self.board.snapshot()
            if any(v.running for v in status.versions):
                self.echo(status_line(status))

    def _panel(self) -> Panel:
        s = self.board.snapshot()
        head = Text.assemble(
            (f"{s.run or 'starting'}", "bold"),
            f"  {s.elapsed_s:5.1f} s  phase: ",
            (s.phase, "bold cyan"),
            f"  backfill: {_backfill(s)}",
        )
        pace = Text(f"  {s.pace}" if s.phase == "backfill" and s.pace else "", style="dim")
        table = Table(show_edge=False, pad_edge=False, box=None)
        for col in ("version", "requests/s", "failed", "p99 (last 2 s)"):
            table.add_column(col, justify="right" if col != "version" else "left")
        for v in s.versions:
            running = v.running or v.requests_per_s > 0
            table.add_row(
                v.version,
                f"{v.requests_per_s:,.0f}" if running else "-",
                Text(f"{v.failed:,}", style="bold red" if v.failed else ""),
                _ms(v.p99_s) if running else "-",
            )
        locks = Text(
            f"longest lock wait: {_ms(s.longest_lock_wait_s)} (now {_ms(s.lock_wait_now_s)})"
        )
        return Panel(Group(head, pace, table, locks), title="zdmigrate demo", expand=False)


def status_line(s: LiveStatus) -> str:
    parts = [f"[{s.elapsed_s:5.1f} s] {s.run}, {s.phase}"]
    if s.backfill is not None and s.phase == "backfill":
        parts.append(f"backfill {_backfill(s)}" + (f" ({s.pace})" if s.pace else ""))
    for v in s.versions:
        if v.running:
            parts.append(
                f"{v.version}: {v.requests_per_s:,.0f} req/s, {v.failed:,} failed, "
                f"p99 {_ms(v.p99_s)}"
            )
    parts.append(f"longest lock wait {_ms(s.longest_lock_wait_s)}")
    return " | ".join(parts)


def print_summary(result: DemoResult, files: ReportFiles, console: Console) -> None:
    """One line per version and run, the gate, the checks, the comparison, the report."""

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    for run in result.runs:
        for s in run.stats:
            say(
                f"{run.label}, {s.version}: {s.requests:,} requests, {s.failed:,} failed, "
                f"p99 {_ms(s.p99_s)}"
            )
    ours = result.zdmigrate
    if ours is not None:
        say(f"gate while the old app ran: {ours.gate_blocked or 'not blocked!'}")
        window = f"{result.options.window_s:g} s"
        say(f"gate after it stopped: {ours.gate_clear} (watched {window} with the old app gone)")
        if ours.completed:
            say(f"completed {CHANGE_NAME}: {ours.seconds:.1f} s from apply to complete")
        say(f"verified: {ours.rows_verified:,} rows checked, {ours.mismatched_rows:,} disagree")
        for ok, what in ours.checks:
            say(f"{'ok' if ok else 'FAILED'}: {what}")
    if len(result.runs) > 1:
        _side_by_side(result, say)
    where = str(files.markdown) + (f", {files.picture}" if files.picture else "")
    say(f"report: {where}")
    if files.picture is None:
        say(f"for the timeline picture: {PICTURE_HINT}")
    if result.ok:
        say("zdmigrate: no failed request, every row verified, every write kept.")
    else:
        say("zdmigrate's run did not go as it should: see the lines above.")


def _side_by_side(result: DemoResult, say: Any) -> None:
    runs = result.runs
    width = max(len(r.label) for r in runs) + 2
    rows = [
        ("", [r.label for r in runs]),
        ("failed requests", [f"{r.failed:,}" for r in runs]),
        ("longest stall", [_ms(r.longest_stall_s) for r in runs]),
        ("total time", [f"{r.seconds:.1f} s" for r in runs]),
    ]
    for name, values in rows:
        say(f"{name:<16}" + "".join(f"{v:>{width}}" for v in values))
