"""A run of the change under traffic (the apps, the lock monitor, the phases), and the
naive run: the change as an Alembic revision's plain ``ALTER TABLE``s. zdmigrate's run
is in ``story``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from zdmigrate.demo.board import NEW_APP, OLD_APP, Board, RunResult
from zdmigrate.demo.scenario import (
    NAIVE,
    NEW,
    OLD,
    create_accounts,
)
from zdmigrate.demo.traffic import App, LockMonitor, Recorder

__all__ = ["DemoOptions", "Echo", "Run", "run_naive"]

Echo = Callable[[str], None]


@dataclass(frozen=True)
class DemoOptions:
    rows: int = 100_000
    rate: float = 100.0  # requests per second, per app version
    window_s: float = 3.0  # the gate's observation window
    warmup_s: float = 1.5  # the old app alone before the change
    compare_naive: bool = False


class Run:
    """The traffic of one run: the lock monitor, the apps, the phases on the board."""

    def __init__(self, label: str, url: str, opts: DemoOptions, board: Board, echo: Echo):
        self.url, self.opts, self.board, self.echo = url, opts, board, echo
        self.recorder = Recorder()
        self.monitor = LockMonitor(url)
        self.label = label
        board.begin(label, self.recorder, self.monitor)
        self.monitor.start()
        self.apps: dict[str, App] = {}

    def step(self, phase: str, line: str) -> None:
        self.board.set_phase(phase)
        self.echo(f"[{self.recorder.now():5.1f} s] {line}")

    def start_app(self, version: str, app_name: str, search_path: str | None = None) -> None:
        queries = OLD if version == OLD_APP else NEW
        app = App(
            self.url,
            version,
            queries,
            self.recorder,
            self.opts.rate,
            self.opts.rows,
            app_name,
            search_path,
        )
        self.apps[version] = app
        app.start()
        self.board.app(version, True)

    def stop_app(self, version: str) -> None:
        self.apps[version].stop()
        self.board.app(version, False)

    def stop_all(self) -> None:
        for version, app in self.apps.items():
            if app.is_alive():
                self.stop_app(version)
        if self.monitor.is_alive():
            self.monitor.stop()

    def result(self, rows: int, seconds: float) -> RunResult:
        return RunResult(
            label=self.label,
            rows=rows,
            seconds=seconds,
            stats=[self.recorder.stats(v) for v in self.apps],
            longest_lock_wait_s=self.monitor.longest,
            phases=list(self.board.phases),
            samples=list(self.recorder.samples),
            end_s=self.recorder.now(),
        )

    def writes_kept(self, result: RunResult, balance_sum: int) -> None:
        """Every committed update and signup is in the table; nothing else is."""
        updates = sum(a.counts.updates for a in self.apps.values())
        signups = sum(a.counts.signups for a in self.apps.values())
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*), coalesce(sum(balance), 0) FROM accounts"
            ).fetchone()
        count, total = (int(row[0]), int(row[1])) if row else (0, 0)
        kept = count == result.rows + signups and total == balance_sum + updates
        result.checks.append(
            (
                kept,
                f"{updates:,} committed updates and {signups:,} signups all in the table"
                if kept
                else f"writes lost: {count:,} rows and balances summing to {total:,}, expected "
                f"{result.rows + signups:,} rows and {balance_sum + updates:,}",
            )
        )


def run_naive(url: str, opts: DemoOptions, board: Board, echo: Echo) -> RunResult:
    """The change as an unreviewed Alembic revision sends it: one transaction of plain
    ALTER TABLEs while the old app runs, then the new app deployed beside it."""
    echo(f"naive run: a new database, accounts filled with {opts.rows:,} rows")
    balance_sum = create_accounts(url, opts.rows)
    run = Run("naive ALTER TABLE", url, opts, board, echo)
    try:
        run.start_app(OLD_APP, "demo-old-app")
        run.step("old app only", f"old app: {opts.rate:g} requests/s on accounts")
        time.sleep(opts.warmup_s)
        started = run.recorder.now()
        with psycopg.connect(url, application_name="demo-alembic-upgrade") as conn:
            run.step("alembic upgrade", "alembic upgrade: BEGIN (one transaction, as Alembic does)")
            for what, statement in NAIVE:
                run.echo(f"[{run.recorder.now():5.1f} s]   {statement};  -- {what}")
                began = time.monotonic()
                conn.execute(statement)
                run.echo(f"  done in {time.monotonic() - began:.2f} s")
            conn.commit()
        seconds = run.recorder.now() - started
        run.step("new app deployed", f"COMMIT after {seconds:.1f} s; the new app is deployed")
        run.start_app(NEW_APP, "demo-new-app")
        time.sleep(1.0 + opts.window_s)
        run.stop_app(OLD_APP)
        failed = run.recorder.failures.get(OLD_APP, 0)
        run.step("old app stopped", f"old app stopped: {failed:,} of its requests failed")
        time.sleep(1.0 + opts.window_s)
        run.stop_all()
        result = run.result(opts.rows, seconds)
        result.completed = True
        run.writes_kept(result, balance_sum)
        return result
    finally:
        run.stop_all()
