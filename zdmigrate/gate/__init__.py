"""The contract gate: evidence that nothing old still uses what contract removes.

``run_gate`` asks every source and returns a ``GateReport``; ``complete``
runs it before any contract step and changes nothing while it is blocked
(``--force`` contracts anyway and writes the override to the audit log).
Sources: ``backfill`` (the migration's own state), ``rows`` (rows whose old
and new columns disagree), ``sessions`` (connections that may be the old
version), ``statements`` (pg_stat_statements over a window), ``writes`` (the
dual-write trigger's count of old-version writes over the same window) and,
when asked, ``code`` (application code naming what goes).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from zdmigrate.config import Settings
from zdmigrate.engine.db import connect
from zdmigrate.engine.store import MigrationRow, Store
from zdmigrate.errors import GateRefused
from zdmigrate.gate import sources, statements, window
from zdmigrate.gate.report import GateReport, SourceResult
from zdmigrate.gate.sources import Ignored
from zdmigrate.gate.users import older_versions, version_users
from zdmigrate.model.step import Plan

__all__ = [
    "GateOptions",
    "GateReport",
    "Ignored",
    "SourceResult",
    "contract_gate",
    "rollback_check",
    "run_gate",
    "version_users_check",
]

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class GateOptions:
    """What the gate looks at besides the database: ``code`` paths to scan and
    ``models`` (``module:attribute``) whose SQLAlchemy metadata to read; sessions it
    does not count (``ignored``, besides the settings'); ``rebaseline``: judge from
    now on (sessions connected before now are old, counters start over)."""

    code: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    force: bool = False
    window_s: float = 60.0
    ignored: Ignored = field(default_factory=Ignored)
    rebaseline: bool = False


def run_gate(
    settings: Settings,
    row: MigrationRow,
    plan: Plan,
    options: GateOptions,
    echo: Callable[[str], None] = lambda line: None,
) -> GateReport:
    """Ask every source, on a connection of the gate's own (``zdmigrate-gate``); nothing
    changes in the database but the gate's snapshots."""
    assert settings.database_url is not None
    ignored = Ignored(
        settings.gate.ignore_applications + options.ignored.applications,
        settings.gate.ignore_roles + options.ignored.roles,
    )
    with connect(settings.database_url, application_name="zdmigrate-gate") as own:
        if options.rebaseline:
            window.rebaseline(own, row.name)
            echo("gate: baseline taken again: sessions connected before now count as old")
        pending = {
            "statements": statements.prepare(own, plan),
            "writes": sources.writes_prepare(own, plan),
        }
        readers = {k: v for k, v in pending.items() if not isinstance(v, SourceResult)}
        seen = window.observe(own, row.name, readers, options.window_s, echo)
        results = [
            sources.backfill(own, row, plan),
            sources.rows(settings, plan),
            sources.sessions(own, row, plan, ignored, window.baseline_time(own, row.name)),
            older_versions(own, row, plan, ignored),
        ]
        for name, ready in pending.items():
            if isinstance(ready, SourceResult):
                results.append(ready)
            elif name == "statements":
                results.append(statements.judge(own, plan, *seen[name], options.window_s))
            else:
                results.append(sources.writes_judge(*seen[name], options.window_s))
    if options.code or options.models:
        results.append(sources.code(plan, options.code, options.models))
    policy = settings.gate.policy(bool(options.code or options.models))
    if "code" in settings.gate.require and not (options.code or options.models):
        results.append(
            SourceResult(
                "code",
                "unavailable",
                "required by [tool.zdmigrate.gate] require: give --code PATH or --models M:A",
            )
        )
    return GateReport(row.name, results, policy, options.window_s)


def _record(conn: Conn, report: GateReport, forced: bool) -> None:
    data = report.to_json()
    if forced:
        data["forced_by"] = {"os_user": getpass.getuser()}
    conn.execute(
        "INSERT INTO zdmigrate.gate_decisions (migration, decision, forced, report) "
        "VALUES (%s, %s, %s, %s)",
        (report.migration, report.verdict, forced, Jsonb(data)),
    )


def _audit_forced(
    conn: Conn, row: MigrationRow, command: str, phase: str, report: GateReport
) -> None:
    """The override of a blocked gate, with who overrode it and the evidence."""
    Store(conn).audit(
        conn,
        migration=row.name,
        command=command,
        step="gate",
        phase=phase,
        status="forced",
        detail={"os_user": getpass.getuser(), "report": report.to_json()},
    )


def version_users_check(
    settings: Settings, ignored: Ignored
) -> Callable[[str, str], list[dict[str, Any]]]:
    """Who uses an older version schema, for contract and cleanup (which keep it while
    anyone does), asked on the gate's own connection; the settings' ignored sessions
    and ``ignored`` do not count."""
    everyone = Ignored(
        settings.gate.ignore_applications + ignored.applications,
        settings.gate.ignore_roles + ignored.roles,
    )

    def users(migration: str, vschema: str) -> list[dict[str, Any]]:
        with connect(settings.database_url, application_name="zdmigrate-gate") as own:
            return version_users(own, migration, vschema, everyone)

    return users


def rollback_check(
    options: GateOptions, settings: Settings, echo: Callable[[str], None]
) -> Callable[[Conn, MigrationRow, Plan], GateReport]:
    """The check ``rollback`` runs: new-version clients block unless forced; a forced
    rollback is written to the audit log with what it overrode."""
    from zdmigrate.gate.rollback import rollback_gate

    def check(conn: Conn, row: MigrationRow, plan: Plan) -> GateReport:
        report = rollback_gate(settings, row, plan, options.ignored)
        if report.blocking and not options.force:
            raise GateRefused(report.summary(), report)
        if report.blocking:
            echo(f"new-version clients found, rolling back anyway (--force): {report.summary()}")
            _audit_forced(conn, row, "rollback", "rollback", report)
        return report

    return check


def contract_gate(
    options: GateOptions, settings: Settings, echo: Callable[[str], None]
) -> Callable[[Conn, MigrationRow, Plan], GateReport]:
    """The check ``complete`` runs: raises GateRefused while blocked, unless forced;
    a forced contract is written to the audit log with the evidence it overrode."""

    def check(conn: Conn, row: MigrationRow, plan: Plan) -> GateReport:
        report = run_gate(settings, row, plan, options, echo)
        forced = options.force and bool(report.blocking)
        _record(conn, report, forced)
        if report.blocking and not options.force:
            raise GateRefused(report.summary(), report)
        if forced:
            echo(f"gate blocked, contracting anyway (--force): {report.summary()}")
            _audit_forced(conn, row, "complete", "contract", report)
        return report

    return check
