"""The gate in the other direction: rollback removes what the *new* version uses.

Before ``rollback`` drops the version schema and the new columns, it looks for
new-version clients: sessions that declare the new version, that hold locks on
the version schema's views (a transaction that used them) or run a query
through it, and statements in pg_stat_statements that ran through the version
schema since the last stored gate snapshot. Found: rollback refuses unless
``--force``. There is no waiting window (rollback is the emergency path), so a
source that cannot look is reported and does not block.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from zdmigrate.config import GatePolicy, Settings
from zdmigrate.engine.db import connect
from zdmigrate.engine.store import MigrationRow
from zdmigrate.gate import statements as stmts
from zdmigrate.gate.report import GateReport, SourceResult
from zdmigrate.gate.sources import Ignored
from zdmigrate.gate.users import version_users
from zdmigrate.model.step import Plan

__all__ = ["rollback_gate"]

Conn = psycopg.Connection[Any]


def _sessions(conn: Conn, plan: Plan, ignored: Ignored) -> SourceResult:
    evidence: dict[int, dict[str, Any]] = {}  # one entry per session, whichever schema
    versions: list[str | None] = [*plan.version_schemas] or [None]
    for vschema in versions:
        for item in version_users(conn, plan.migration, vschema, ignored):
            evidence.setdefault(item["pid"], item)
    found = list(evidence.values())
    return SourceResult("sessions", "found" if found else "clear", evidence=found)


def _statements(conn: Conn, plan: Plan) -> SourceResult:
    if plan.version_schema is None:
        return SourceResult("statements", "clear", "physical mode: no version schema to go")
    ready = stmts.prepare(conn, plan, any_change=True)
    if isinstance(ready, SourceResult):
        return ready
    row = conn.execute(
        "SELECT data, taken_at FROM zdmigrate.gate_snapshots WHERE migration = %s "
        "AND source = 'statements' ORDER BY taken_at DESC LIMIT 1",
        (plan.migration,),
    ).fetchone()
    if row is None:
        return SourceResult(
            "statements",
            "unavailable",
            "no earlier gate run to compare counts with: run 'zdmigrate gate' first",
        )
    before = {k: int(v) for k, v in row[0].items()}
    now = ready(conn)
    vschemas = plan.version_schemas
    schemas = [p.schema for p in plan.schema_parts]
    old_path = ", ".join(sql.Identifier(s).as_string() for s in [*schemas, "public"])
    new_path = ", ".join([*(sql.Identifier(v).as_string() for v in vschemas), old_path])
    names = [t.lower() for t in plan.tables] + [v.lower() for v in vschemas]
    evidence = []
    for qid, (calls, text) in now.items():
        grown = calls - before.get(qid, 0)
        if qid == stmts.DEALLOC or grown <= 0 or not text or stmts.is_own_probe(text):
            continue
        lowered = text.lower()
        if not any(n in lowered for n in names):
            continue
        through = any(v.lower() in lowered for v in vschemas) or (
            stmts.resolves_to(conn, text, new_path, qid)
            and not stmts.resolves_to(conn, text, old_path, qid)
        )
        if through:
            evidence.append(
                {
                    "summary": f"{grown} calls through {', '.join(vschemas)} since "
                    f"{row[1]:%Y-%m-%d %H:%M:%S}: {text[:120]}",
                    "query": text,
                    "queryid": qid,
                    "calls": grown,
                }
            )
    return SourceResult("statements", "found" if evidence else "clear", evidence=evidence)


def rollback_gate(
    settings: Settings, row: MigrationRow, plan: Plan, ignored: Ignored
) -> GateReport:
    """New-version clients that rollback would break; only what is found blocks."""
    assert settings.database_url is not None
    everyone = Ignored(
        settings.gate.ignore_applications + ignored.applications,
        settings.gate.ignore_roles + ignored.roles,
    )
    with connect(settings.database_url, application_name="zdmigrate-gate") as own:
        results = [_sessions(own, plan, everyone), _statements(own, plan)]
    required = frozenset({"sessions", "statements"})
    policy = GatePolicy(required, allow_unavailable=required)
    return GateReport(row.name, results, policy, action="roll back")
