"""zdmigrate's run of the change: apply under the old app's traffic, the new app
beside it, ``complete`` refused while the old app runs, the old app gone, the gate
clear after its window, ``complete``; then what is checked."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from zdmigrate import commands
from zdmigrate.commands import ApplyResult, GateOptions, Progress
from zdmigrate.config import Settings
from zdmigrate.demo.board import NEW_APP, OLD_APP, Board, RunResult
from zdmigrate.demo.runs import DemoOptions, Echo, Run
from zdmigrate.demo.scenario import CHANGE, CHANGE_NAME, create_accounts
from zdmigrate.errors import GateRefused
from zdmigrate.spec import parse_migration

__all__ = ["blocked_summary", "evidence_lines", "run_zdmigrate"]


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

    def __init__(self, run: Run, progress: Callable[[Progress], None]) -> None:
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
    """The change as zdmigrate makes it, under the same traffic as the naive run."""
    url = settings.database_url
    assert url is not None
    # the server may not load pg_stat_statements: then the gate's other sources decide
    gate = settings.gate.model_copy(update={"allow_unavailable": ("statements",)})
    settings = settings.with_overrides(gate=gate)
    echo(f"zdmigrate run: a new database, accounts filled with {opts.rows:,} rows")
    balance_sum = create_accounts(url, opts.rows)
    _statements_extension(url)
    story = _Story(settings, Run("zdmigrate", url, opts, board, echo), progress)
    try:
        result = story.tell()
    finally:
        story.run.stop_all()
    story.run.writes_kept(result, balance_sum)
    _final_shape(url, result)
    return result


class _Story:
    """The steps of zdmigrate's run, one method each."""

    def __init__(self, settings: Settings, run: Run, progress: Callable[[Progress], None]) -> None:
        self.settings, self.run = settings, run
        self.tap = _Tap(run, progress)
        self.window = run.opts.window_s
        self.clear = ""  # the gate's verdict once the old app is gone
        self.verified = (0, -1)  # rows checked, rows that disagree

    def tell(self) -> RunResult:
        run = self.run
        run.start_app(OLD_APP, "demo-old-app")
        run.step("old app only", f"old app: {run.opts.rate:g} requests/s on accounts")
        time.sleep(run.opts.warmup_s)
        started = run.recorder.now()
        self.new_app(self.apply())
        refused = self.complete_refused()
        run.stop_app(OLD_APP)
        run.step("old app stopped", "old app stopped (its last instance is gone)")
        if refused is not None:
            self.gate_clear()
            self.verify()
            self.contract()
        seconds = run.recorder.now() - started
        run.step("new app only", "completed; the new app keeps running")
        time.sleep(1.0)
        run.stop_all()
        result = run.result(run.opts.rows, seconds)
        result.completed = True
        if refused is not None:
            result.gate_blocked = blocked_summary(refused.report)
            result.gate_evidence = evidence_lines(refused.report)
        result.gate_clear = self.clear
        result.rows_verified, result.mismatched_rows = self.verified
        return result

    def apply(self) -> ApplyResult:
        self.run.step("expand", f"zdmigrate apply {CHANGE_NAME}: expand, then backfill")
        change = parse_migration(CHANGE, CHANGE_NAME, f"{CHANGE_NAME}.yaml")
        applied = commands.apply(self.settings, change, self.tap.echo, self.tap.progress)
        self.run.echo(
            "rename: the old app keeps accounts.email; the new version reads and writes it as "
            f"email_address through the view {applied.version_schema}.accounts (nothing copied)"
        )
        self.run.echo(
            "bigint and email_domain: filled for every row; the trigger keeps them in step "
            f"with the old app's writes; new app: search_path={applied.search_path}"
        )
        return applied

    def new_app(self, applied: ApplyResult) -> None:
        name = f"demo-new-app version={CHANGE_NAME}"  # a session may declare its version
        self.run.start_app(NEW_APP, name, applied.search_path)
        self.run.step("both versions", "new app: started beside the old one, through its views")
        time.sleep(1.0)

    def complete_refused(self) -> GateRefused | None:
        """``complete`` while the old app runs: the gate's refusal (None: it completed)."""
        self.run.step("gate: blocked", f"zdmigrate complete {CHANGE_NAME} (the old app runs)")
        try:
            self.complete()
        except GateRefused as refused:
            for line in evidence_lines(refused.report):
                self.run.echo(f"  {line}")
            self.run.echo(f"complete refused: {blocked_summary(refused.report)}")
            return refused
        self.run.echo("complete was not refused while the old app ran!")
        return None

    def gate_clear(self) -> None:
        self.run.step(
            "gate: watching",
            f"zdmigrate gate {CHANGE_NAME} --rebaseline: judging from now on, {self.window:g} s",
        )
        options = GateOptions(window_s=self.window, rebaseline=True)
        clear = commands.gate(self.settings, CHANGE_NAME, options, self.tap.echo)
        self.run.echo(f"gate: {clear.verdict}")
        self.clear = "clear" if not clear.blocking else clear.summary()

    def verify(self) -> None:
        verified = commands.verify(self.settings, CHANGE_NAME)
        self.run.echo(f"verify: {verified.summary()}")
        self.verified = (sum(t.rows_checked for t in verified.tables), verified.mismatches)

    def contract(self) -> None:
        self.run.step("contract", f"zdmigrate complete {CHANGE_NAME}")
        self.complete()
        self.run.echo(
            "rename: done on the table: accounts.email is now email_address; balance is the "
            "bigint column; email_domain is NOT NULL"
        )

    def complete(self) -> None:
        options = GateOptions(window_s=self.window)
        commands.complete(self.settings, CHANGE_NAME, self.tap.echo, False, options)


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
