"""Who is using a version schema right now: the check before one is dropped.

A session's search_path cannot be read from another session, so a version's
users are found by what can be seen: the version it declares in its
application_name (``version=NAME``), locks it holds on the version schema's
views (a transaction that used them), and a running query that names the
schema. Rollback asks it of its own version schema; contract asks it of the
older version schemas it would drop, and keeps those in use.
"""

from __future__ import annotations

from typing import Any

import psycopg

from zdmigrate.engine.runner import contract_drops
from zdmigrate.engine.store import MigrationRow, Store
from zdmigrate.gate.report import SourceResult
from zdmigrate.gate.sources import Ignored, declared_version, likes
from zdmigrate.model.step import Plan

__all__ = ["older_versions", "version_users"]

Conn = psycopg.Connection[Any]

_SESSIONS_SQL = """
SELECT a.pid, a.usename, a.application_name, a.backend_start, a.state, a.query,
       EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE l.pid = a.pid AND n.nspname = %s) AS uses_version
  FROM pg_stat_activity a
 WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
   AND coalesce(a.backend_type, 'client backend') = 'client backend'
   AND a.usename IS NOT NULL
   AND a.application_name NOT LIKE 'zdmigrate%%'
   AND NOT a.application_name LIKE ANY(%s)
   AND NOT a.usename LIKE ANY(%s)
 ORDER BY a.pid
"""


def version_users(
    conn: Conn, migration: str, vschema: str | None, ignored: Ignored
) -> list[dict[str, Any]]:
    """Evidence, one entry per session, that ``migration``'s version (its version schema
    ``vschema``) is in use; zdmigrate's own sessions and ``ignored`` ones do not count."""
    names = {migration} | ({vschema} if vschema else set())
    evidence = []
    rows = conn.execute(
        _SESSIONS_SQL, (vschema or "", likes(ignored.applications), likes(ignored.roles))
    ).fetchall()
    for pid, user, app, started, state, query, uses_version in rows:
        declared = declared_version(app)
        if declared in names:
            why = f"declares version {declared}"
        elif uses_version:
            why = f"has {vschema}'s views open in a transaction"
        elif vschema and state == "active" and vschema.lower() in (query or "").lower():
            why = f"is running a query through {vschema}"
        else:
            continue
        evidence.append(
            {
                "summary": f"session {pid} ({user}, {app or 'no application_name'}) {why}",
                "pid": pid,
                "user": user,
                "application_name": app,
                "backend_start": started.isoformat() if started else None,
                "state": state,
                "query": (query or "")[:200],
            }
        )
    return evidence


def older_versions(conn: Conn, row: MigrationRow, plan: Plan, ignored: Ignored) -> SourceResult:
    """The ``versions`` source: sessions using an older version schema that contract
    drops. Contract keeps such a schema (and says so), so by default this only warns;
    ``require`` it to complete only once every older version is gone."""
    schemas = [p.schema for p in plan.schema_parts]
    older = contract_drops(plan, Store(conn).predecessors_to_drop(row.name, schemas))
    evidence = []
    for migration, vschema in older:
        for item in version_users(conn, migration, vschema, ignored):
            summary = f"{item['summary']}: contract keeps {vschema} while it is in use"
            evidence.append({**item, "summary": summary, "version_schema": vschema})
    if evidence:
        return SourceResult("versions", "found", evidence=evidence)
    if not older:
        return SourceResult("versions", "clear", "contract drops no older version schema")
    return SourceResult("versions", "clear")
