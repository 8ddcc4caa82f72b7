"""The gate's evidence sources. Each returns ``clear``, ``found`` with evidence, or
``unavailable`` with the reason and how to enable it; none changes anything."""

from __future__ import annotations

from typing import Any

import psycopg

from zdmigrate.config import Settings
from zdmigrate.engine.store import MigrationRow
from zdmigrate.engine.verify import verify_specs
from zdmigrate.gate.report import SourceResult
from zdmigrate.model.step import Plan

__all__ = ["backfill", "code", "rows", "sessions"]

Conn = psycopg.Connection[Any]

_UNFINISHED_SQL = (
    "SELECT table_name FROM zdmigrate.backfill_checkpoints "
    "WHERE migration = %s AND status <> 'done' ORDER BY 1"
)


def backfill(conn: Conn, row: MigrationRow) -> SourceResult:
    """The migration's own state: every backfill finished, nothing paused."""
    evidence = [
        {"summary": f"backfill of {r[0]} not finished", "table": r[0]}
        for r in conn.execute(_UNFINISHED_SQL, (row.name,)).fetchall()
    ]
    if row.paused:
        evidence.append({"summary": "the migration is paused"})
    return SourceResult("backfill", "found" if evidence else "clear", evidence=evidence)


def rows(settings: Settings, plan: Plan) -> SourceResult:
    """Rows whose old and new columns disagree: contract would lose the newer value."""
    if not plan.verify:
        return SourceResult("rows", "clear", "no column is kept in step by a backfill")
    assert settings.database_url is not None
    report = verify_specs(
        settings.database_url, plan.migration, plan.verify, settings.verify_report_limit
    )
    evidence = [
        {
            "summary": f"{t.mismatches:,} rows of {t.table} disagree, e.g. {', '.join(t.keys)}",
            "table": t.table,
            "rows": t.mismatches,
            "keys": t.keys,
        }
        for t in report.tables
        if t.mismatches
    ]
    return SourceResult("rows", "found" if evidence else "clear", evidence=evidence)


_SESSIONS_SQL = """
SELECT a.pid, a.usename, a.application_name, a.backend_start, a.state, a.query,
       m.expanded_at
  FROM pg_stat_activity a, zdmigrate.migrations m
 WHERE m.name = %s AND a.datname = current_database() AND a.pid <> pg_backend_pid()
   -- another role's session shows NULL here without pg_read_all_stats: it counts
   AND coalesce(a.backend_type, 'client backend') = 'client backend'
   AND a.usename IS NOT NULL  -- autovacuum and other workers have no user
   AND a.application_name NOT LIKE 'zdmigrate%%'
   AND NOT a.application_name LIKE ANY(%s)
 ORDER BY a.backend_start NULLS FIRST, a.pid
"""


def sessions(conn: Conn, row: MigrationRow, plan: Plan, exclude: tuple[str, ...]) -> SourceResult:
    """Connections opened before the new version existed (before expand finished):
    an old version's pool, or anything else that has not reconnected since.
    zdmigrate's own connections, and applications matching ``exclude`` (globs), do
    not count."""
    if not plan.deprecated:
        return SourceResult("sessions", "clear", "contract takes nothing away from the old version")
    evidence, hidden = [], 0
    for pid, user, app, started, state, query, expanded in conn.execute(
        _SESSIONS_SQL, (row.name, [p.replace("*", "%") for p in exclude])
    ).fetchall():
        if started is None:  # another role's session, without pg_read_all_stats
            hidden += 1
        elif expanded is None or started < expanded:
            evidence.append(
                {
                    "summary": f"session {pid} ({user}, {app or 'no application_name'}) "
                    f"connected {started:%Y-%m-%d %H:%M:%S}, before the new version",
                    "pid": pid,
                    "user": user,
                    "application_name": app,
                    "backend_start": started.isoformat(),
                    "state": state,
                    "query": (query or "")[:200],
                }
            )
    if evidence:
        return SourceResult("sessions", "found", evidence=evidence)
    if hidden:
        return SourceResult(
            "sessions",
            "unavailable",
            f"{hidden} sessions of other roles cannot be seen: "
            "GRANT pg_read_all_stats TO the migration role",
        )
    return SourceResult("sessions", "clear")


def code(plan: Plan, paths: tuple[str, ...], models: tuple[str, ...]) -> SourceResult:
    """Application code (SQL strings, SQLAlchemy models) still naming what contract removes."""
    from zdmigrate.gate.code import scan_models, scan_paths

    deprecated = set(plan.deprecated)
    found = scan_paths(list(paths), deprecated) if paths else []
    for spec in models:
        found += scan_models(spec, deprecated)
    evidence = [
        {"summary": f"{e.file}:{e.line}: {e.summary}", "file": e.file, "line": e.line}
        for e in found
    ]
    return SourceResult("code", "found" if evidence else "clear", evidence=evidence)
