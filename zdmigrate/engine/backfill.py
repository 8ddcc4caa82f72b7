"""The backfill driver: pacing, checkpoints, pauses. The SQL is in plan.backfill.

Each batch commits with its checkpoint in one transaction, so a killed
process resumes exactly after the last committed batch. No transaction
lives longer than one batch; while paused, no lock and no transaction is held.
A batch that meets a row an app transaction keeps locked gives up after
lock_timeout, releasing the rows it locked so far (the app must not queue
behind them), and is retried with backoff within the lock retry budget.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pgerr
from psycopg.types.json import Jsonb

from zdmigrate.config import Settings
from zdmigrate.engine.db import connect
from zdmigrate.engine.executor import backoff_s
from zdmigrate.engine.store import Store
from zdmigrate.errors import BackfillError, LockTimeout
from zdmigrate.plan.backfill import (
    CHECKPOINT_INSERT_SQL,
    CHECKPOINT_UPDATE_SQL,
    SESSION_SQL,
    BackfillSpec,
)

__all__ = ["BatchSizer", "Progress", "run_backfill"]

Conn = psycopg.Connection[Any]


@dataclass
class Progress:
    table: str
    rows_done: int
    rows_total: int | None
    rows_per_s: float
    batch_size: int
    paused: bool = False
    finished: bool = False
    why: str = ""


ProgressFn = Callable[[Progress], None]


class BatchSizer:
    """Aim each batch at a target time: grow slowly, cut sharply when far over."""

    def __init__(self, settings: Settings) -> None:
        self.size = min(max(settings.batch_size, settings.min_batch_size), settings.max_batch_size)
        self.target = settings.target_batch_ms / 1000
        self.lo = settings.min_batch_size
        self.hi = settings.max_batch_size

    def observe(self, rows: int, seconds: float) -> int:
        if rows >= self.size * 0.5 and seconds > 0:
            ratio = self.target / seconds
            factor = 0.25 if ratio < 0.2 else min(ratio, 1.5)
            self.size = int(min(max(self.size * factor, self.lo), self.hi))
        return self.size


REPLICA_LAG_SQL = (
    "SELECT max(EXTRACT(epoch FROM GREATEST(write_lag, flush_lag, replay_lag))), "
    "min(replay_lsn - '0/0'::pg_lsn) FROM pg_stat_replication"
)


class ReplicaLag:
    """How far the slowest replica is behind, in seconds.

    ``pg_stat_replication`` reports the lag of WAL a replica has already
    replayed, so a replica that is still working through our last batch shows
    nothing new yet. The backfill therefore also notes where each batch ended
    in the WAL: the oldest batch some replica has not replayed tells how long
    it has been waiting. The larger of the two figures counts.
    """

    def __init__(self) -> None:
        self.batches: deque[tuple[int, float]] = deque(maxlen=100_000)

    def committed(self, wal_position: int) -> None:
        self.batches.append((wal_position, time.monotonic()))

    def seconds(self, conn: Conn) -> float | None:
        """None without replicas (or without the pg_monitor role to see them)."""
        row = conn.execute(REPLICA_LAG_SQL).fetchone()
        if row is None:
            return None
        reported, replayed = row
        behind: float | None = None
        if replayed is not None:
            while self.batches and self.batches[0][0] <= int(replayed):
                self.batches.popleft()
            if self.batches:
                behind = time.monotonic() - self.batches[0][1]
        figures = [float(v) for v in (reported, behind) if v is not None]
        return max(figures) if figures else None


def _hold_reason(store: Store, migration: str, settings: Settings, lag: ReplicaLag) -> str:
    """Why the backfill must wait before its next batch ('' to go on). No transaction is open."""
    if store.is_paused(migration):
        return "paused"
    seconds = lag.seconds(store.conn)
    if seconds is not None and seconds > settings.max_replica_lag_s:
        return f"replica lag {seconds:.1f} s > {settings.max_replica_lag_s:g} s"
    return ""


def _checkpoint(store: Store, migration: str, spec: BackfillSpec) -> dict[str, Any] | None:
    row = store.conn.execute(
        "SELECT last_key, upper_key, rows_done, rows_total, status, batch_size "
        "FROM zdmigrate.backfill_checkpoints WHERE migration = %s AND table_name = %s",
        (migration, spec.table),
    ).fetchone()
    if row is None:
        return None
    keys = ("last_key", "upper_key", "rows_done", "rows_total", "status", "batch_size")
    return dict(zip(keys, row, strict=True))


def _start(conn: Conn, store: Store, migration: str, spec: BackfillSpec) -> dict[str, Any]:
    upper = conn.execute(spec.upper_bound_sql(), ()).fetchone()
    estimate = conn.execute(spec.estimate_sql(), ()).fetchone()
    total = int(estimate[0]) if estimate and estimate[0] else None
    if total is None:
        counted = conn.execute(spec.total_sql(), ()).fetchone()
        total = int(counted[0]) if counted else 0
    status = "running" if upper else "done"
    store.conn.execute(
        CHECKPOINT_INSERT_SQL,
        (migration, spec.table, Jsonb(list(upper)) if upper else None, total, status),
    )
    found = _checkpoint(store, migration, spec)
    assert found is not None
    return found


def _failing_key(
    conn: Conn,
    spec: BackfillSpec,
    lower: list[str] | None,
    end: list[str],
    limit: int,
    error: psycopg.Error,
) -> tuple[str | None, str]:
    """Find the first row of a failed batch whose assignments raise, and why; else
    (None, the batch's own error), e.g. a unique violation between rows."""
    conn.rollback()
    first = lower is None
    params: list[Any] = [*(lower or []), *end, limit]
    keys = conn.execute(spec.batch_keys_sql(first), params).fetchall()
    conn.commit()
    for key in keys:
        try:
            conn.execute(spec.row_check_sql(), list(key)).fetchall()
            conn.commit()
        except psycopg.Error as exc:
            conn.rollback()
            message = str(exc).strip().splitlines()[0]
            shown = ", ".join(str(k) for k in key)
            return f"({', '.join(spec.key)})=({shown})", message
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    detail = getattr(error.diag, "message_detail", None)
    return None, message + (f" ({detail.strip()})" if detail else "")


def _batch(
    conn: Conn, spec: BackfillSpec, last: list[str] | None, upper: list[str], size: int
) -> tuple[int, int, list[str], bool]:
    """One batch in the open transaction: (rows changed, rows covered, end key, finished)."""
    first = last is None
    lower = list(last or [])
    found = conn.execute(spec.batch_end_sql(first), [*lower, *upper, size - 1]).fetchone()
    if found is None:
        counted = conn.execute(spec.count_sql(first), [*lower, *upper]).fetchone()
        seen, end, finished = int(counted[0]) if counted else 0, list(upper), True
    else:
        seen, end = size, list(found)
        finished = end == list(upper)
    changed = conn.execute(spec.update_sql(first), [*lower, *end]).rowcount
    return changed, seen, end, finished


def run_backfill(
    url: str,
    store: Store,
    migration: str,
    spec: BackfillSpec,
    settings: Settings,
    progress: ProgressFn,
) -> int:
    """Backfill ``spec`` to its upper bound; returns rows updated by this run."""
    with connect(url, autocommit=False, application_name="zdmigrate-backfill") as conn:
        conn.execute(SESSION_SQL, (f"{settings.lock_timeout_ms}ms",))
        conn.commit()
        state = _checkpoint(store, migration, spec) or _start(conn, store, migration, spec)
        conn.commit()
        if state["status"] == "done":
            return 0
        return _loop(conn, store, migration, spec, settings, progress, state)


def _loop(
    conn: Conn,
    store: Store,
    migration: str,
    spec: BackfillSpec,
    settings: Settings,
    progress: ProgressFn,
    state: dict[str, Any],
) -> int:
    sizer = BatchSizer(settings)
    if state.get("batch_size"):
        sizer.size = int(state["batch_size"])
    last: list[str] | None = state["last_key"]
    upper: list[str] = state["upper_key"]
    done = int(state["rows_done"])
    total = state["rows_total"]
    updated = 0
    started = time.monotonic()
    blocked_since: float | None = None
    attempts = 0
    lag = ReplicaLag()
    while True:
        held = _hold_reason(store, migration, settings, lag)
        if held:
            progress(Progress(spec.table, done, total, 0.0, sizer.size, paused=True, why=held))
            time.sleep(0.5)
            continue
        t0 = time.monotonic()
        try:
            changed, seen, new_last, finished = _batch(conn, spec, last, upper, sizer.size)
        except (pgerr.LockNotAvailable, pgerr.DeadlockDetected):
            conn.rollback()
            attempts += 1
            blocked_since = blocked_since or t0
            waited = time.monotonic() - blocked_since
            if waited >= settings.lock_retry_budget_s:
                raise LockTimeout(f"backfill of {spec.table}", attempts, waited) from None
            time.sleep(backoff_s(attempts))
            continue
        except psycopg.Error as exc:
            key, why = _failing_key(conn, spec, last, upper, sizer.size, exc)
            where = f" at key {key}" if key is not None else ""
            raise BackfillError(
                f"{migration}: backfill of {spec.table} failed{where}: {why}",
                "fix the up expression (or the row) and run apply again",
            ) from exc
        blocked_since, attempts = None, 0
        done += seen
        rate = (done - int(state["rows_done"])) / max(time.monotonic() - started, 1e-6)
        wal = conn.execute(
            CHECKPOINT_UPDATE_SQL,
            (
                Jsonb(new_last),
                done,
                sizer.size,
                rate,
                "done" if finished else "running",
                migration,
                spec.table,
            ),
        )
        position = wal.fetchone()
        conn.commit()
        if position is not None:
            lag.committed(int(position[0]))
        updated += changed
        elapsed = time.monotonic() - t0
        progress(Progress(spec.table, done, total, rate, sizer.size, finished=finished))
        if finished:
            return updated
        last = new_last
        sizer.observe(seen, elapsed)
        if settings.sleep_ratio:
            time.sleep(elapsed * settings.sleep_ratio)
