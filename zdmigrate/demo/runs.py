"""The two runs of the same change under the same traffic: the naive one (an Alembic
revision's plain ``ALTER TABLE``s) and zdmigrate's (apply, both versions, the gate,
complete)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from zdmigrate import commands
from zdmigrate.commands import GateOptions, Progress
from zdmigrate.config import Settings
from zdmigrate.demo.board import NEW_APP, OLD_APP, Board, RunResult
from zdmigrate.demo.scenario import (
    CHANGE,
    CHANGE_NAME,
    NAIVE,
    NEW,
    OLD,
    create_accounts,
)
from zdmigrate.demo.traffic import App, LockMonitor, Recorder
from zdmigrate.errors import GateRefused
from zdmigrate.spec import parse_migration

__all__ = ["DemoOptions", "run_naive", "run_zdmigrate"]

Echo = Callable[[str], None]


@dataclass(frozen=True)
class DemoOptions:
    rows: int = 100_000
    rate: float = 100.0  # requests per second, per app version
    window_s: float = 3.0  # the gate's observation window
    warmup_s: float = 1.5  # the old app alone before the change
    compare_naive: bool = False


class _Run:
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
    run = _Run("naive ALTER TABLE", url, opts, board, echo)
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


def _statements_extension(url: str) -> None:
    """pg_stat_statements in the demo's database when the server loads it: the gate then
    names the old app's statements. Without it the gate's other sources decide."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    except psycopg.Error:
        pass


def evidence_lines(report: Any) -> list[str]:
    """The gate's evidence, a line per item; a session with the query it ran last."""
    lines = []
    for src in report.blocking:
        if src.verdict != "found":
            lines.append(f"{src.source}: unavailable ({src.reason})")
            continue
        for item in src.evidence:
            line = f"{src.source}: {item['summary']}"
            if src.source == "sessions" and item.get("query") and "query" not in item["summary"]:
                line += f"; its last query: {item['query'][:120]}"
            lines.append(line)
    for src in report.warnings:
        reason = f" ({src.reason})" if src.reason else ""
        lines.append(f"{src.source}: {src.verdict}{reason}, does not block")
    return lines


def blocked_summary(report: Any) -> str:
    """What blocked the gate, in one line: the old app's busiest statement (or, without
    pg_stat_statements, its session's last query), its sessions, its writes."""
    order = {"statements": 0, "sessions": 1, "writes": 2}
    parts = []
    for src in sorted(report.blocking, key=lambda s: order.get(s.source, 3)):
        found = src.evidence
        if src.verdict != "found":
            parts.append(f"{src.source} unavailable")
        elif src.source == "statements":
            top = max(found, key=lambda e: int(e.get("calls", 0)))
            parts.append(
                f"the old app's statements ({len(found)}), the busiest "
                f"{top['query'][:100]} ({top['calls']:,} calls in {report.window_s:g} s)"
            )
        elif src.source == "sessions":
            names = sorted({str(e.get("application_name") or e.get("pid")) for e in found})
            last = next((e["query"][:100] for e in found if e.get("query")), "")
            parts.append(
                f"its session ({', '.join(names)})" + (f", last query {last}" if last else "")
            )
        elif src.source == "writes":
            parts.append(f"{found[0]['writes']:,} old-version writes")
        else:
            parts.append(f"{src.source}: {found[0]['summary']}")
    return "blocked by " + "; ".join(parts)


class _Tap:
    """Passes apply's and complete's lines and progress on, and moves the phase."""

    def __init__(self, run: _Run, progress: Callable[[Progress], None]) -> None:
        self.run, self.forward = run, progress

    def echo(self, line: str) -> None:
        phase = "contract" if line.startswith("contract:") else ""
        if line.startswith("expand: validate"):
            phase = "validate"
        elif line.startswith("expand:"):
            phase = "expand"
        if phase and phase != self.run.board.phase:
            self.run.board.set_phase(phase)
        self.run.echo(
            line if line.startswith("  ") else f"[{self.run.recorder.now():5.1f} s] {line}"
        )

    def progress(self, p: Progress) -> None:
        if self.run.board.phase != "backfill":
            self.run.board.set_phase("backfill")
        self.run.board.backfill = (p.rows_done, p.rows_total)
        self.run.board.pace = f"waiting: {p.why}" if p.paused else p.throttle
        self.forward(p)


def run_zdmigrate(
    settings: Settings,
    opts: DemoOptions,
    board: Board,
    echo: Echo,
    progress: Callable[[Progress], None],
) -> RunResult:
    """apply, the new app beside the old, complete refused while the old app runs, the
    old app stops, the gate clears after its window, complete."""
    url = settings.database_url
    assert url is not None
    # the server may not load pg_stat_statements: then the gate's other sources decide
    gate = settings.gate.model_copy(update={"allow_unavailable": ("statements",)})
    settings = settings.with_overrides(gate=gate)
    change = parse_migration(CHANGE, CHANGE_NAME, f"{CHANGE_NAME}.yaml")
    echo(f"zdmigrate run: a new database, accounts filled with {opts.rows:,} rows")
    balance_sum = create_accounts(url, opts.rows)
    _statements_extension(url)
    run = _Run("zdmigrate", url, opts, board, echo)
    tap = _Tap(run, progress)
    window = GateOptions(window_s=opts.window_s)
    try:
        run.start_app(OLD_APP, "demo-old-app")
        run.step("old app only", f"old app: {opts.rate:g} requests/s on accounts")
        time.sleep(opts.warmup_s)
        started = run.recorder.now()
        run.step("expand", f"zdmigrate apply {CHANGE_NAME}: expand, then backfill")
        applied = commands.apply(settings, change, tap.echo, tap.progress)
        vschema = applied.version_schema
        run.echo(
            f"rename: the old app keeps accounts.email; the new version reads and writes it as "
            f"email_address through the view {vschema}.accounts (nothing copied)"
        )
        run.echo(
            f"bigint and email_domain: filled for every row; the trigger keeps them in step "
            f"with the old app's writes; new app: search_path={applied.search_path}"
        )
        run.start_app(NEW_APP, f"demo-new-app version={CHANGE_NAME}", applied.search_path)
        run.step("both versions", "new app: started beside the old one, through its version schema")
        time.sleep(1.0)
        run.step("gate: blocked", f"zdmigrate complete {CHANGE_NAME} (the old app still runs)")
        blocked, evidence = "", []
        try:
            commands.complete(settings, CHANGE_NAME, tap.echo, force=False, options=window)
        except GateRefused as refused:
            evidence = evidence_lines(refused.report)
            for line in evidence:
                run.echo(f"  {line}")
            blocked = blocked_summary(refused.report)
            run.echo(f"complete refused: {blocked}")
        run.stop_app(OLD_APP)
        run.step("old app stopped", "old app stopped (its last instance is gone)")
        run.step(
            "gate: watching",
            f"zdmigrate gate {CHANGE_NAME} --rebaseline: judging from now on, {opts.window_s:g} s",
        )
        clear = commands.gate(
            settings, CHANGE_NAME, GateOptions(window_s=opts.window_s, rebaseline=True), tap.echo
        )
        run.echo(f"gate: {clear.verdict}")
        verified = commands.verify(settings, CHANGE_NAME)
        run.echo(f"verify: {verified.summary()}")
        run.step("contract", f"zdmigrate complete {CHANGE_NAME}")
        commands.complete(settings, CHANGE_NAME, tap.echo, force=False, options=window)
        seconds = run.recorder.now() - started
        run.echo(
            "rename: done on the table: accounts.email is now email_address; balance is the "
            "bigint column; email_domain is NOT NULL"
        )
        run.step("new app only", "completed; the new app keeps running")
        time.sleep(1.0)
        run.stop_all()
        result = run.result(opts.rows, seconds)
        result.gate_blocked, result.gate_evidence = blocked, evidence
        result.gate_clear = "clear" if not clear.blocking else clear.summary()
        result.completed = True
        result.rows_verified = sum(t.rows_checked for t in verified.tables)
        result.mismatched_rows = verified.mismatches
        run.writes_kept(result, balance_sum)
        _final_shape(url, result)
        return result
    finally:
        run.stop_all()


def _final_shape(url: str, result: RunResult) -> None:
    """The table has the new shape and every email_domain agrees with its email_address."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE email_domain IS DISTINCT FROM "
            "  split_part(email_address, '@', 2)),"
            " (SELECT data_type FROM information_schema.columns WHERE table_name = 'accounts'"
            "  AND table_schema = current_schema() AND column_name = 'balance'),"
            " (SELECT is_nullable FROM information_schema.columns WHERE table_name = 'accounts'"
            "  AND table_schema = current_schema() AND column_name = 'email_domain'),"
            " to_regclass('accounts_email_domain_idx') IS NOT NULL "
            "FROM accounts"
        ).fetchone()
    wrong, balance_type, nullable, indexed = row if row else (-1, None, None, False)
    ok = wrong == 0 and balance_type == "bigint" and nullable == "NO" and indexed
    result.checks.append(
        (
            ok,
            "accounts has its new shape (email_address, balance bigint, email_domain NOT NULL, "
            "indexed) and every email_domain agrees with its email_address"
            if ok
            else f"new shape wrong: {wrong} rows with a wrong email_domain, balance "
            f"{balance_type}, email_domain nullable {nullable}, index "
            f"{'present' if indexed else 'missing'}",
        )
    )
