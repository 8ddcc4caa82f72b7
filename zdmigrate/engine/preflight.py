"""``apply --dry-run``: the checks that need no change, against the server as it is now.

Each check reads the catalog, ``pg_locks`` or ``pg_stat_activity`` and says ``ok``,
``note`` (worth knowing, apply would still go ahead) or ``blocks`` (apply would
most likely refuse or give up now). The caller's connection is read-only: nothing
here writes, not even the state schema.

Lock holders are judged by how long their transaction has been open: apply waits
``lock_timeout`` for a lock and retries within ``lock_retry_budget_s``, so a
transaction that holds a conflicting lock and has already been open longer than
that budget is one apply would most likely not outwait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from zdmigrate._phases import LIVE_PHASES
from zdmigrate.config import Settings
from zdmigrate.engine.store import MigrationRow, Store
from zdmigrate.model.schema import Catalog
from zdmigrate.model.step import Lock, Plan

__all__ = ["Check", "expression_check", "lock_checks", "privilege_checks", "state_checks"]

Conn = psycopg.Connection[Any]

# pg_locks' mode names, weakest first, and which held modes each requested one waits for
_MODES = (
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)
_CONFLICTS = {
    "AccessShareLock": {"AccessExclusiveLock"},
    "RowShareLock": {"ExclusiveLock", "AccessExclusiveLock"},
    "RowExclusiveLock": set(_MODES[4:]),
    "ShareUpdateExclusiveLock": set(_MODES[3:]),
    "ShareLock": {"RowExclusiveLock", "ShareUpdateExclusiveLock", *_MODES[5:]},
    "ShareRowExclusiveLock": set(_MODES[2:]),
    "ExclusiveLock": set(_MODES[1:]),
    "AccessExclusiveLock": set(_MODES),
}
_PG_MODE = {
    Lock.access_share: "AccessShareLock",
    Lock.row_exclusive: "RowExclusiveLock",
    Lock.share_update_exclusive: "ShareUpdateExclusiveLock",
    Lock.share: "ShareLock",
    Lock.share_row_exclusive: "ShareRowExclusiveLock",
    Lock.access_exclusive: "AccessExclusiveLock",
}


@dataclass(frozen=True)
class Check:
    name: str
    verdict: str  # ok, note, blocks
    summary: str
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "verdict": self.verdict,
            "summary": self.summary,
            "evidence": self.evidence,
        }


def state_checks(
    conn: Conn, store: Store | None, name: str, schema: str, plan: Plan, row: MigrationRow | None
) -> list[Check]:
    """What the state schema says: another zdmigrate on it, another migration in flight
    on its tables, its version schema taken."""
    out = [_process(conn, name)]
    if row is not None and row.phase in LIVE_PHASES:
        out.append(Check("state", "note", f"in flight ({row.phase}): apply resumes it"))
    elif row is not None and row.phase == "rolled_back":
        out.append(Check("state", "ok", "rolled back earlier: apply applies it again"))
    else:
        out.append(Check("state", "ok", "not applied yet"))
    if store is not None:
        shared = store.conflicts(name, schema, plan.tables)
        if shared:
            other, tables = shared[0]
            out.append(
                Check(
                    "in flight",
                    "blocks",
                    f"migration '{other}' is still in flight on {', '.join(tables)}: "
                    f"complete or roll back '{other}' first",
                )
            )
        else:
            names = ", ".join(plan.tables) or "its tables"
            out.append(Check("in flight", "ok", f"no other migration in flight on {names}"))
    out.append(_version_schema(conn, name, plan.version_schema, store is not None, row))
    return out


def _process(conn: Conn, name: str) -> Check:
    held = conn.execute(
        "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database()) AND ((l.classid::bigint << 32) | l.objid::bigint)"
        " = hashtextextended('zdmigrate:' || %s, 0)",
        (name,),
    ).fetchone()
    if held is None:
        return Check("process", "ok", "no other zdmigrate process runs it")
    return Check(
        "process",
        "blocks",
        f"another zdmigrate process (pid {held[0]}) runs it now",
        [{"pid": held[0]}],
    )


def _version_schema(
    conn: Conn, name: str, vschema: str | None, has_state: bool, row: MigrationRow | None
) -> Check:
    if vschema is None:
        return Check("version schema", "ok", "none (physical mode)")
    if row is not None and row.phase in LIVE_PHASES:
        return Check("version schema", "ok", f"{vschema} (this migration's)")
    other = None
    if has_state:
        other = conn.execute(
            "SELECT name FROM zdmigrate.migrations WHERE version_schema = %s AND name <> %s "
            "AND NOT version_schema_dropped AND phase <> 'rolled_back'",
            (vschema, name),
        ).fetchone()
    if other is not None:
        return Check("version schema", "blocks", f"{vschema} is already migration '{other[0]}''s")
    exists = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (vschema,)).fetchone()
    if exists and exists[0]:
        return Check("version schema", "blocks", f"schema {vschema} already exists")
    return Check("version schema", "ok", f"{vschema} is free")


def privilege_checks(
    conn: Conn, schema: str, plan: Plan, catalog: Catalog, has_state: bool
) -> list[Check]:
    """Owning the tables it alters; CREATE on the schema and the database where needed."""
    out = []
    existing = [t for t in plan.tables if t in catalog.tables]
    not_owned = [
        r[0]
        for r in conn.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = to_regnamespace(%s) "
            "AND c.relname = ANY(%s) AND NOT pg_has_role(current_user, c.relowner, 'USAGE') "
            "ORDER BY 1",
            (schema, existing),
        ).fetchall()
    ]
    if not_owned:
        out.append(
            Check(
                "privileges",
                "blocks",
                f"{', '.join(not_owned)}: not owned by this role; run as the tables' owner",
            )
        )
    elif existing:
        out.append(Check("privileges", "ok", f"owns {', '.join(existing)}"))
    creates = [s for s in plan.expand if "CREATE " in s.sql.upper()]
    needs_db = plan.version_schema is not None or not has_state
    if needs_db and not _one(conn, "SELECT has_database_privilege(current_database(), 'CREATE')"):
        out.append(
            Check(
                "privileges",
                "blocks",
                "no CREATE on the database: needed for the version schema"
                + ("" if has_state else " and zdmigrate's state schema"),
            )
        )
    if creates and not _one(conn, "SELECT has_schema_privilege(%s, 'CREATE')", (schema,)):
        out.append(Check("privileges", "blocks", f"no CREATE on schema {schema}"))
    return out


def _one(conn: Conn, query: str, params: tuple[Any, ...] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


# locks on the tables (or their partitions: named by the table), and who holds them
_LOCKS_SQL = """
WITH t AS (SELECT c.oid, c.relname FROM pg_class c
            WHERE c.relnamespace = to_regnamespace(%(schema)s) AND c.relname = ANY(%(tables)s)),
     r AS (SELECT oid AS rel, relname FROM t
           UNION SELECT i.inhrelid, t.relname FROM pg_inherits i JOIN t ON t.oid = i.inhparent)
SELECT l.pid, l.mode, l.granted, r.relname, a.application_name, a.usename, a.state,
       EXTRACT(epoch FROM now() - a.xact_start)::float8 AS xact_s
  FROM pg_locks l
  JOIN r ON r.rel = l.relation
  LEFT JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'relation' AND l.pid <> pg_backend_pid()
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY a.xact_start NULLS LAST, l.pid
"""

_OLD_XACTS_SQL = """
SELECT pid, application_name, usename, state,
       EXTRACT(epoch FROM now() - xact_start)::float8 AS xact_s
  FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
   AND xact_start < now() - make_interval(secs => %s)
 ORDER BY xact_start
"""


def _who(pid: int, app: str | None, user: str | None, state: str | None) -> str:
    parts = [f"pid {pid}"]
    if app:
        parts.append(f"application '{app}'")
    if user:
        parts.append(f"role {user}")
    if state:
        parts.append(state)
    return ", ".join(parts)


def _strongest(plan: Plan) -> dict[str, Lock]:
    """The strongest lock expand (and the validation after the backfill) takes on each table."""
    out: dict[str, Lock] = {}
    for step in [*plan.expand, *plan.post_backfill]:
        for table in step.tables:
            if step.lock is not Lock.none and step.lock.rank > out.get(table, Lock.none).rank:
                out[table] = step.lock
    return out


def lock_checks(conn: Conn, settings: Settings, schema: str, plan: Plan) -> list[Check]:
    """Sessions that hold (or wait for) locks on the tables that conflict with the locks
    expand takes; with a concurrent index build, every old transaction of the database."""
    budget = settings.lock_retry_budget_s
    strongest = _strongest(plan)
    blocking: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    found = conn.execute(_LOCKS_SQL, {"schema": schema, "tables": list(strongest)}).fetchall()
    for pid, mode, granted, rel, app, user, state, xact_s in found:
        wanted = _PG_MODE.get(strongest[rel], "AccessExclusiveLock")
        item = {
            "pid": pid,
            "table": rel,
            "mode": mode,
            "granted": granted,
            "application_name": app,
            "role": user,
            "state": state,
            "transaction_s": round(xact_s, 1) if xact_s is not None else None,
            "summary": "",
        }
        age = (
            "an unknown time (pg_read_all_stats shows it)" if xact_s is None else f"{xact_s:.0f} s"
        )
        if not granted:
            item["summary"] = f"{_who(pid, app, user, state)} waits for {mode} on {rel}"
            waiting.append(item)
        elif mode in _CONFLICTS[wanted]:
            item["summary"] = (
                f"{_who(pid, app, user, state)} holds {mode} on {rel} in a transaction open "
                f"for {age}; apply needs {wanted}"
            )
            blocking.append(item)
    out = []
    old = [b for b in blocking if b["transaction_s"] is not None and b["transaction_s"] > budget]
    if old:
        out.append(
            Check(
                "locks",
                "blocks",
                f"{len(old)} session(s) hold a conflicting lock in a transaction open longer "
                f"than apply retries ({budget:g} s): {old[0]['summary']}",
                old,
            )
        )
    elif blocking:
        out.append(
            Check(
                "locks",
                "note",
                f"{len(blocking)} session(s) hold a conflicting lock now; apply retries for up "
                f"to {budget:g} s: {blocking[0]['summary']}",
                blocking,
            )
        )
    else:
        out.append(Check("locks", "ok", "no session holds a conflicting lock on the tables"))
    if waiting:
        out.append(
            Check(
                "lock queue",
                "note",
                f"{len(waiting)} session(s) wait for a lock on the tables: {waiting[0]['summary']}",
                waiting,
            )
        )
    if any(not s.transactional for s in plan.expand + plan.post_backfill):
        out.append(_old_transactions(conn, budget))
    return out


def _old_transactions(conn: Conn, budget: float) -> Check:
    rows = conn.execute(_OLD_XACTS_SQL, (budget,)).fetchall()
    if not rows:
        return Check(
            "long transactions",
            "ok",
            f"no transaction open longer than {budget:g} s (a concurrent build waits for them)",
        )
    evidence = [
        {
            "pid": pid,
            "application_name": app,
            "role": user,
            "state": state,
            "transaction_s": round(xact_s, 1),
            "summary": f"{_who(pid, app, user, state)}: open for {xact_s:.0f} s",
        }
        for pid, app, user, state, xact_s in rows
    ]
    return Check(
        "long transactions",
        "blocks",
        f"{len(rows)} transaction(s) open longer than {budget:g} s; a concurrent index build "
        f"waits for every older transaction: {evidence[0]['summary']}",
        evidence,
    )


def expression_check(conn: Conn, plan: Plan) -> Check:
    """The plan's checks (EXPLAIN of each up and down expression): each must plan."""
    for step in plan.checks:
        try:
            with conn.transaction():
                conn.execute(step.sql)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0]
            return Check("expressions", "blocks", f"{step.description}: {first}")
    if not plan.checks:
        return Check("expressions", "ok", "no up or down expression to check")
    return Check("expressions", "ok", f"{len(plan.checks)} expression(s) plan on the tables")
