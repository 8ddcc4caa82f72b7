"""The gate's evidence sources. Each returns ``clear``, ``found`` with evidence, or
``unavailable`` with the reason and how to enable it; none changes anything."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from zdmigrate.config import Settings
from zdmigrate.engine.backfill import unfinished
from zdmigrate.engine.store import MigrationRow
from zdmigrate.engine.verify import verify_specs
from zdmigrate.gate.report import SourceResult
from zdmigrate.gate.statements import Resolver
from zdmigrate.gate.window import Reader
from zdmigrate.model.step import Plan
from zdmigrate.plan.triggers import writes_sequence

__all__ = [
    "Ignored",
    "backfill",
    "code",
    "declared_version",
    "likes",
    "rows",
    "sessions",
    "writes_judge",
    "writes_prepare",
]

Conn = psycopg.Connection[Any]


def backfill(conn: Conn, row: MigrationRow, plan: Plan) -> SourceResult:
    """The migration's own state: every backfill finished, nothing paused."""
    where = {b.checkpoint_name: (b.schema, b.table) for b in plan.backfill}
    evidence = [
        {"summary": f"backfill of {what} not finished", "table": what.split(" ")[0]}
        for what in unfinished(conn, row.name, row.schema_name, where)
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
       a.query_id::text, greatest(m.expanded_at, %s) AS baseline
  FROM pg_stat_activity a, zdmigrate.migrations m
 WHERE m.name = %s AND a.datname = current_database() AND a.pid <> pg_backend_pid()
   -- another role's session shows NULL here without pg_read_all_stats: it counts
   AND coalesce(a.backend_type, 'client backend') = 'client backend'
   AND a.usename IS NOT NULL  -- autovacuum and other workers have no user
   AND a.application_name NOT LIKE 'zdmigrate%%'
   AND NOT a.application_name LIKE ANY(%s)
   AND NOT a.usename LIKE ANY(%s)
 ORDER BY a.backend_start NULLS FIRST, a.pid
"""
# a session may say which version of the app it is: "billing version=0004_orders" in
# its application_name (another session's settings, zdmigrate.version among them,
# cannot be read)
_DECLARED = re.compile(r"(?:^|[\s;,/@(])version=([\w.-]+)")


def declared_version(application_name: str | None) -> str | None:
    """The version a session declares in its application_name (``version=NAME``)."""
    found = _DECLARED.search(application_name or "")
    return found[1] if found else None


def likes(globs: tuple[str, ...]) -> list[str]:
    return [g.replace("%", r"\%").replace("_", r"\_").replace("*", "%") for g in globs]


@dataclass(frozen=True)
class Ignored:
    """Sessions the gate does not count, by application_name or role (globs): a DBA
    console, a monitoring agent, a pooler's own connections."""

    applications: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


def sessions(
    conn: Conn, row: MigrationRow, plan: Plan, ignored: Ignored, baseline: Any = None
) -> SourceResult:
    """Connections that may be the old version: opened before the new version existed
    (before expand finished, or the last ``--rebaseline``), declaring another version
    in their application_name, or running a query that uses what contract removes.
    zdmigrate's own connections, and those ``ignored`` names, do not count; a
    session declaring this migration's version is the new version's."""
    if not plan.deprecated:
        return SourceResult("sessions", "clear", "contract takes nothing away from the old version")
    new = {plan.migration, *plan.version_schemas}
    evidence, hidden = [], 0
    resolver: Resolver | None = None
    rows = conn.execute(
        _SESSIONS_SQL,
        (baseline, row.name, likes(ignored.applications), likes(ignored.roles)),
    ).fetchall()
    for pid, user, app, started, state, query, qid, since in rows:
        if started is None:  # another role's session, without pg_read_all_stats
            hidden += 1
            continue
        declared = declared_version(app)
        if declared in new:
            continue
        fields = {
            "pid": pid,
            "user": user,
            "application_name": app,
            "backend_start": started.isoformat(),
            "state": state,
            "query": (query or "")[:200],
        }
        who = f"session {pid} ({user}, {app or 'no application_name'})"
        if declared is not None:
            why = f"declares version {declared}, not {plan.migration}"
        elif since is None or started < since:
            why = f"connected {started:%Y-%m-%d %H:%M:%S}, before the new version"
        elif state in ("active", "idle in transaction") and query:
            resolver = resolver or Resolver(conn, plan)
            found = resolver.old_use(query, None if qid in (None, "0") else qid)
            if found is None:
                continue
            why = f"is running a query that {found['what']}: {query[:120]}"
            fields["origin"] = found["origin"]
        else:
            continue
        evidence.append({"summary": f"{who} {why}", **fields})
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


def writes_prepare(conn: Conn, plan: Plan) -> SourceResult | Reader:
    """The reader of the migration's old-version write counters (the dual-write trigger
    takes one value per old-version write; one counter per schema), or why there is
    none to read."""
    if not plan.deprecated:
        return SourceResult("writes", "clear", "contract takes nothing away from the old version")
    counted = [
        p.schema
        for p in plan.schema_parts
        if any(
            s.key in ("expand:writes-counter", f"expand:writes-counter@{p.schema}")
            for s in plan.expand
        )
    ]
    if not counted:
        return SourceResult("writes", "clear", "no dual-write trigger: no old-version write to see")
    name = writes_sequence(plan.migration)
    for schema in counted:
        found = conn.execute(
            "SELECT to_regclass(%s)", (sql.Identifier(schema, name).as_string(),)
        ).fetchone()
        if found is None or found[0] is None:
            return SourceResult(
                "writes",
                "unavailable",
                f"the write counter {schema}.{name} is missing: apply created it; "
                "was it dropped by hand?",
            )
    query = sql.SQL(" + ").join(
        sql.SQL("(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {})").format(
            sql.Identifier(schema, name)
        )
        for schema in counted
    )

    def read(c: Conn) -> dict[str, Any]:
        value = c.execute(sql.SQL("SELECT {}").format(query)).fetchone()
        return {"writes": int(value[0]) if value else 0}

    return read


def writes_judge(before: dict[str, int], now: dict[str, Any], window_s: float) -> SourceResult:
    grown = int(now["writes"]) - int(before.get("writes", now["writes"]))
    if grown <= 0:
        return SourceResult("writes", "clear")
    return SourceResult(
        "writes",
        "found",
        evidence=[
            {
                "summary": f"{grown} old-version writes in the last {window_s:g} s (the "
                "dual-write trigger saw sessions that did not reach the table through "
                "the new version's schema)",
                "writes": grown,
            }
        ],
    )


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
