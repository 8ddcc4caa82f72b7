"""Every lock and rewrite claim in a plan holds on a real server.

Each example migration's steps run in order, by hand, in a fresh database.
Inside each transactional step, pg_locks must show that the strongest lock
held on each table the step names is the one the plan claims; a step that
claims no rewrite must leave the table's relfilenode unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from zdmigrate.engine.introspect import introspect
from zdmigrate.engine.state import init_state
from zdmigrate.model.step import Lock, Step
from zdmigrate.plan.builder import build_plan
from zdmigrate.spec import load_migration

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "migrations_examples").glob("*.*"))
MODES = {
    "AccessShareLock": Lock.access_share,
    "RowExclusiveLock": Lock.row_exclusive,
    "ShareUpdateExclusiveLock": Lock.share_update_exclusive,
    "ShareLock": Lock.share,
    "ShareRowExclusiveLock": Lock.share_row_exclusive,
    "AccessExclusiveLock": Lock.access_exclusive,
}
Conn = psycopg.Connection[Any]


def _filenodes(conn: Conn, tables: tuple[str, ...]) -> dict[str, int]:
    rows = conn.execute(
        "SELECT relname, relfilenode FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relname = ANY(%s)",
        (list(tables),),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def _oids(conn: Conn, tables: tuple[str, ...]) -> dict[int, str]:
    rows = conn.execute(
        "SELECT oid::bigint, relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relname = ANY(%s)",
        (list(tables),),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def _strongest_locks(conn: Conn, oids: dict[int, str]) -> dict[str, Lock]:
    """The locks held on the tables, by the names they had before the step (a step that
    drops or renames a table still holds its lock on the same relation)."""
    rows = conn.execute(
        "SELECT l.relation::bigint, l.mode FROM pg_locks l "
        "WHERE l.pid = pg_backend_pid() AND l.granted AND l.relation::bigint = ANY(%s)",
        (list(oids),),
    ).fetchall()
    held: dict[str, Lock] = {}
    for oid, mode in rows:
        name = oids[oid]
        lock = MODES.get(mode)
        if lock is not None and (name not in held or lock.rank > held[name].rank):
            held[name] = lock
    return held


def _run(conn: Conn, step: Step, problems: list[str]) -> None:
    existing = tuple(t for t in step.tables if _filenodes(conn, (t,)))
    before = _filenodes(conn, existing)
    oids = _oids(conn, existing)
    if not step.transactional:
        conn.execute(step.sql)
    else:
        with conn.transaction():
            conn.execute(step.sql)
            held = _strongest_locks(conn, oids)
            for table in existing:
                if held.get(table) != step.lock:
                    problems.append(
                        f"{step.key}: claims {step.lock.value} on {table}, holds "
                        f"{held.get(table, Lock.none).value}"
                    )
    after = _filenodes(conn, existing)
    if not step.rewrites:
        for table, node in before.items():
            if after.get(table, node) != node:
                problems.append(f"{step.key}: claims no rewrite but rewrote {table}")


def _drop_older_versions(conn: Conn, keep: str | None) -> None:
    rows = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'public\\_%%' AND nspname <> %s",
        (keep,),
    ).fetchall()
    for (name,) in rows:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def test_lock_and_rewrite_claims_hold(db: Conn) -> None:
    init_state(db)
    problems: list[str] = []
    checked = 0
    for path in EXAMPLES:
        migration = load_migration(path)
        plan = build_plan(migration, introspect(db, "public"))
        for step in [*plan.expand, *plan.post_backfill]:
            _run(db, step, problems)
            checked += 1
        _drop_older_versions(db, plan.version_schema)  # what `complete` does first
        for step in plan.contract:
            _run(db, step, problems)
            checked += 1
    assert problems == []
    assert checked >= 20
