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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NoReturn

import psycopg
from psycopg import errors as pgerr
from psycopg import sql
from psycopg.types.json import Jsonb

from zdmigrate.config import Settings
from zdmigrate.engine.db import connect
from zdmigrate.engine.executor import backoff_s
from zdmigrate.engine.store import Store
from zdmigrate.engine.throttle import Throttle
from zdmigrate.errors import BackfillError, LockTimeout, ZdmError
from zdmigrate.model.schema import MARKER
from zdmigrate.plan.backfill import (
    CHECKPOINT_INSERT_SQL,
    CHECKPOINT_UPDATE_SQL,
    LEAF_SQL,
    LEAVES_SQL,
    REPLICA_LAG_SQL,
    SESSION_SQL,
    BackfillSpec,
    regclass_text,
)

__all__ = ["BatchSizer", "Progress", "run_backfill", "unfinished"]

Conn = psycopg.Connection[Any]
APPLICATION = "zdmigrate-backfill"  # every session the backfill runs batches on


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
    throttle: str = ""  # the throttle's state: how it paces the batches, and why
    part: str = ""  # the partition being walked ('' for the table itself)


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


def _block_end(last: list[Any] | None, upper: list[Any], size: int, per_page: int) -> list[Any]:
    """Where a block walk's batch of ``size`` rows from ``last`` ends: a tuple position
    (block, line), by the leaf's rows per block, at most the end of the walk."""
    block, line = (int(v) for v in last) if last else (0, 0)
    ahead = line + size
    end = [block + ahead // per_page, ahead % per_page]
    return min(end, [int(upper[0]), 0])


def _hold_reason(store: Store, migration: str, settings: Settings, lag: ReplicaLag) -> str:
    """Why the backfill must wait before its next batch ('' to go on). No transaction is open."""
    why = store.paused_why(migration)
    if why is not None:
        return f"paused ({why}); 'zdmigrate resume {migration}' continues" if why else "paused"
    seconds = lag.seconds(store.conn)
    if seconds is not None and seconds > settings.max_replica_lag_s:
        return f"replica lag {seconds:.1f} s > {settings.max_replica_lag_s:g} s"
    return ""


@dataclass
class Place:
    """Where a leaf's walk is: its checkpoint as last read or written, the end of the last
    batch committed, the rows counted, and the leaf's rows per block."""

    mark: dict[str, Any]
    last: list[Any] | None
    done: int
    per_page: int


@dataclass(frozen=True)
class Leaf:
    """A relation the backfill walks: the table itself (part ''), or one partition."""

    schema: str
    name: str
    part: str

    @property
    def rel(self) -> tuple[str, str]:
        return (self.schema, self.name)

    @property
    def regclass(self) -> str:
        return regclass_text(self.schema, self.name)


def _leaves(conn: Conn, spec: BackfillSpec) -> list[Leaf]:
    """What to walk now; refuses a partition whose rows it cannot fill."""
    rows = conn.execute(LEAVES_SQL, (spec.regclass, spec.regclass)).fetchall()
    conn.commit()
    leaves = []
    for schema, name, kind, method in rows:
        part = "" if (schema, name) == (spec.schema, spec.table) else regclass_text(schema, name)
        where = f"partition {part} of {spec.table}" if part else f"table {spec.table}"
        if kind != "r":
            raise BackfillError(
                f"backfill of {spec.table}: {where} is not an ordinary table ({kind})",
                "detach it (a foreign table's rows cannot be filled) and run apply again",
            )
        if spec.walk == "blocks" and method != "heap":
            raise BackfillError(
                f"backfill of {spec.table}: {where} uses the table access method "
                f"'{method}'; walking by block ranges needs heap",
                'roll back, set walk = "keys" in [tool.zdmigrate.backfill] and apply again',
            )
        leaves.append(Leaf(schema, name, part))
    return leaves


def _checkpoints(store: Store, migration: str, spec: BackfillSpec) -> dict[str, dict[str, Any]]:
    keys = ("last_key", "upper_key", "rows_done", "rows_total", "status", "batch_size", "file")
    rows = store.conn.execute(
        "SELECT part, last_key, upper_key, rows_done, rows_total, status, batch_size, "
        "relfilenode FROM zdmigrate.backfill_checkpoints WHERE migration = %s "
        "AND table_name = %s",
        (migration, spec.checkpoint_name),
    ).fetchall()
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def unfinished(
    conn: Conn, migration: str, schema: str, where: dict[str, tuple[str, str]] | None = None
) -> list[str]:
    """Tables and partitions the migration's backfill has not filled: an unfinished walk,
    or a partition attached after the walk ended with rows the triggers never saw (one
    created empty after apply holds only rows they wrote). ``where``: the (schema, table)
    of a checkpoint's name when it is not a table of ``schema``."""
    rows = conn.execute(
        "SELECT table_name, part, status FROM zdmigrate.backfill_checkpoints "
        "WHERE migration = %s ORDER BY 1, 2",
        (migration,),
    ).fetchall()
    done: dict[str, set[str]] = {}
    out: list[str] = []
    for table, part, status in rows:
        if status == "done":
            done.setdefault(table, set()).add(part)
        elif status != "detached":
            out.append(f"{table} ({part})" if part else table)
    for table, parts in done.items():
        if parts == {""}:
            continue  # a table walked as one (not partitioned, or walked by an old release)
        own = (where or {}).get(table, (schema, table))
        name = regclass_text(*own)
        listed = conn.execute(LEAVES_SQL, (name, name)).fetchall()
        for leaf_schema, name, _, _ in listed:
            part = regclass_text(leaf_schema, name)
            if part in parts or (leaf_schema, name) == own:
                continue
            query = sql.SQL("SELECT EXISTS (SELECT FROM ONLY {} WHERE {})").format(
                sql.Identifier(leaf_schema, name), sql.Identifier(MARKER)
            )
            found = conn.execute(query).fetchone()
            if found and found[0]:
                out.append(f"{table} ({part}, attached after the backfill)")
    return out


def _rows_per_block(mark: dict[str, Any]) -> int:
    """A leaf's rows per block when its walk started (50 if it cannot tell)."""
    upper, total = mark.get("upper_key"), mark.get("rows_total")
    if upper and total and len(upper) == 1:
        return max(round(int(total) / max(int(upper[0]), 1)), 1)
    return 50


def _failing_key(
    conn: Conn,
    spec: BackfillSpec,
    leaf: Leaf,
    lower: list[Any] | None,
    end: list[Any],
    limit: int,
    error: psycopg.Error,
) -> tuple[str | None, str]:
    """Find the first row of a failed batch whose assignments raise, and why; else
    (None, the batch's own error), e.g. a unique violation between rows."""
    conn.rollback()
    if spec.walk == "blocks":
        block, line = (int(v) for v in lower) if lower else (0, 0)
        stop = f"({int(end[0])},{int(end[1]) if len(end) > 1 else 0})"
        params: list[Any] = [f"({block},{line})", stop, limit]
        keys = conn.execute(spec.block_keys_sql(leaf.rel), params).fetchall()
    else:
        first = lower is None
        params = [*(lower or []), *end, limit]
        keys = conn.execute(spec.batch_keys_sql(first, leaf.rel), params).fetchall()
    conn.commit()
    for key in keys:
        try:
            conn.execute(spec.row_check_sql(leaf.rel), list(key)).fetchall()
            conn.commit()
        except psycopg.Error as exc:
            conn.rollback()
            message = str(exc).strip().splitlines()[0]
            shown = ", ".join(str(k) for k in key)
            return f"({', '.join(spec.key)})=({shown})", message
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    detail = getattr(error.diag, "message_detail", None)
    return None, message + (f" ({detail.strip()})" if detail else "")


def run_backfill(
    url: str,
    store: Store,
    migration: str,
    spec: BackfillSpec,
    settings: Settings,
    progress: ProgressFn,
) -> int:
    """Backfill every leaf of ``spec``'s table; returns rows updated by this run."""
    with connect(url, autocommit=False, application_name=APPLICATION) as conn:
        conn.execute(SESSION_SQL, (f"{settings.lock_timeout_ms}ms",))
        conn.commit()
        own = [conn.info.backend_pid, store.conn.info.backend_pid]
        throttle = Throttle(url, settings, own)
        throttle.start()
        walk = Walk(url, conn, store, migration, spec, settings, progress, throttle)
        try:
            return walk.run()
        finally:
            walk.close()
            throttle.close()


class Walk:
    """One run of a table's backfill: each leaf, batch by batch, then any new leaf."""

    def __init__(
        self,
        url: str,
        conn: Conn,
        store: Store,
        migration: str,
        spec: BackfillSpec,
        settings: Settings,
        progress: ProgressFn,
        throttle: Throttle,
    ) -> None:
        self.conn, self.store, self.migration, self.spec = conn, store, migration, spec
        self.settings, self.progress, self.throttle = settings, progress, throttle
        self.lag = ReplicaLag()
        # the sessions that run batches ahead of the walk's own, while it may use more
        self.url, self.others, self.no_more = url, list[Conn](), False
        self.pool: ThreadPoolExecutor | None = None
        self.updated = 0
        self.done_before = 0  # rows done in the leaves already finished (for progress)
        self.total = 0
        self.why = ""

    def run(self) -> int:
        while True:
            marks = _checkpoints(self.store, self.migration, self.spec)
            leaves = _leaves(self.conn, self.spec)
            todo = [leaf for leaf in leaves if marks.get(leaf.part, {}).get("status") != "done"]
            self.total = sum(int(m["rows_total"] or 0) for m in marks.values())
            self.done_before = sum(int(m["rows_done"]) for m in marks.values())
            if not todo:
                return self.updated
            for leaf in todo:
                mark = marks.get(leaf.part)
                if mark is not None:
                    self.done_before -= int(mark["rows_done"])
                try:
                    self._leaf(leaf, mark)
                except pgerr.UndefinedTable:
                    if not leaf.part:
                        raise
                    self._gone(leaf)

    def _gone(self, leaf: Leaf) -> None:
        """A partition dropped during the walk: nothing of it is left to fill."""
        self.conn.rollback()
        self.store.conn.execute(
            "UPDATE zdmigrate.backfill_checkpoints SET status = 'detached', updated_at = now() "
            "WHERE migration = %s AND table_name = %s AND part = %s",
            (self.migration, self.spec.checkpoint_name, leaf.part),
        )

    def _start(self, leaf: Leaf) -> dict[str, Any]:
        """A fresh checkpoint for a leaf (a new one, one attached again, or one rewritten)."""
        conn = self.conn
        found = conn.execute(LEAF_SQL, (leaf.regclass,)).fetchone()
        assert found is not None
        file, blocks, estimate = (int(v) for v in found)
        upper: list[Any] | None
        if self.spec.walk == "blocks":
            upper = [blocks] if blocks else None
        else:
            got = conn.execute(self.spec.upper_bound_sql(leaf.rel), ()).fetchone()
            upper = list(got) if got else None
        total = estimate
        if not total and upper:
            counted = conn.execute(self.spec.total_sql(leaf.rel), ()).fetchone()
            total = int(counted[0]) if counted else 0
        conn.commit()
        self.store.conn.execute(
            CHECKPOINT_INSERT_SQL,
            (
                self.migration,
                self.spec.checkpoint_name,
                leaf.part,
                self.spec.walk,
                file,
                Jsonb(upper) if upper else None,
                total,
                "running" if upper else "done",
            ),
        )
        marks = _checkpoints(self.store, self.migration, self.spec)
        self.total = sum(int(m["rows_total"] or 0) for m in marks.values())
        return marks[leaf.part]

    def _leaf(self, leaf: Leaf, mark: dict[str, Any] | None) -> None:
        if mark is None or mark["status"] == "detached":
            mark = self._start(leaf)
        sizer = BatchSizer(self.settings)
        if mark.get("batch_size"):
            sizer.size = int(mark["batch_size"])
        at = Place(mark, mark["last_key"], int(mark["rows_done"]), _rows_per_block(mark))
        started_done, started = at.done, time.monotonic()
        blocked_since: float | None = None
        attempts = 0
        while at.mark["status"] != "done":
            held = _hold_reason(self.store, self.migration, self.settings, self.lag)
            held = held or self._critical()
            self.throttle.holding = bool(held)
            if held:
                self._show(leaf, at.done, 0.0, sizer.size, paused=True, why=held)
                time.sleep(0.5)
                continue
            if self.throttle.baseline_due():
                why = "measuring the app alone"
                self._show(leaf, at.done, 0.0, sizer.size, paused=True, why=why)
                self.throttle.measure_baseline()
                continue
            last, upper = at.last, at.mark["upper_key"]
            t0 = time.monotonic()
            ahead = self._ahead(leaf, last, upper, sizer.size, at.per_page)
            try:
                changed, seen, end, finished = self._batch(leaf, last, upper, sizer, at.per_page)
            except (pgerr.LockNotAvailable, pgerr.DeadlockDetected):
                self._drop(ahead)
                self.conn.rollback()
                attempts += 1
                blocked_since = blocked_since or t0
                waited = time.monotonic() - blocked_since
                if waited >= self.settings.lock_retry_budget_s:
                    raise LockTimeout(f"backfill of {self._name(leaf)}", attempts, waited) from None
                time.sleep(backoff_s(attempts))
                continue
            except pgerr.UndefinedTable:
                self._drop(ahead)
                raise  # a partition dropped meanwhile: run() moves on
            except psycopg.Error as exc:
                self._drop(ahead)
                self._fail(leaf, last, upper, sizer.size, exc)
            blocked_since, attempts = None, 0
            elapsed = time.monotonic() - t0
            # each batch commits with its checkpoint, in the walk's order: a checkpoint
            # never passes a batch that has not committed
            batches = [(self.conn, changed, seen, end, finished), *self._landed(ahead)]
            for i, (conn, changed, covered, end, finished) in enumerate(batches):
                at.done += changed if self.spec.walk == "blocks" else covered
                rate = (at.done - started_done) / max(time.monotonic() - started, 1e-6)
                after = self._commit(leaf, at, conn, end, sizer.size, rate, finished)
                self.updated += changed if after != "lost" else 0
                if after:
                    self._release([b[0] for b in batches[i + 1 :]])
                    if after == "detached":
                        return
                    break
            else:
                self._show(leaf, at.done, rate, sizer.size, finished=at.mark["status"] == "done")
                if at.mark["status"] == "done":
                    self.done_before += at.done
                    return
                sizer.target = self.settings.target_batch_ms / 1000 * self.throttle.batch_share()
                sizer.observe(seen, elapsed)
                self._rest(elapsed, len(batches))

    def _commit(
        self,
        leaf: Leaf,
        at: Place,
        conn: Conn,
        end: list[Any],
        size: int,
        rate: float,
        finished: bool,
    ) -> str:
        """Write a batch's checkpoint in its transaction on ``conn`` and commit both, then
        move ``at`` past it: '' to go on; else why the batches after it are not to commit
        ('detached', 'moved': the walk starts again; 'lost': a session ahead was lost,
        and ``at`` is the checkpoint as the database has it)."""
        status = "done" if finished else "running"
        try:
            file, member = self._mark(conn, leaf, end, at.done, size, rate, status)
        except psycopg.OperationalError:
            if conn is self.conn:
                raise
            # lost (ended by an admin, the network) before or in its commit: whether it
            # committed, the checkpoint says; the walk goes on from there
            self._release([conn])
            mark = _checkpoints(self.store, self.migration, self.spec)[leaf.part]
            at.mark, at.last, at.done = mark, mark["last_key"], int(mark["rows_done"])
            return "lost"
        self.throttle.batch_committed()
        if not member:
            # detached during the walk: its rows are no longer the table's
            self._mark(self.conn, leaf, end, at.done, size, rate, "detached")
            return "detached"
        moved = at.mark["file"] is not None and file != int(at.mark["file"])
        if self.spec.walk == "blocks" and moved:
            # VACUUM FULL or CLUSTER moved the rows: walk the new file from its start
            at.mark = self._start(leaf)
            at.last, at.per_page = None, _rows_per_block(at.mark)
            return "moved"
        at.mark["status"], at.last = status, end
        return ""

    def _batch(
        self,
        leaf: Leaf,
        last: list[Any] | None,
        upper: list[Any],
        sizer: BatchSizer,
        per_page: int,
    ) -> tuple[int, int, list[Any], bool]:
        """One batch in the open transaction: (rows changed, rows covered, end, finished).

        A block walk's batch is a range of tuple positions (block, line): as many as hold
        a batch of rows by the leaf's rows per block, so a batch can end inside a block.
        Each batch starts where the last ended, so the ranges cover every position.
        """
        spec, conn = self.spec, self.conn
        if spec.walk == "blocks":
            end = _block_end(last, upper, sizer.size, per_page)
            return self._blocks(conn, leaf, last, end, upper, per_page)
        first = last is None
        low = list(last or [])
        found = conn.execute(
            spec.batch_end_sql(first, leaf.rel), [*low, *upper, sizer.size - 1]
        ).fetchone()
        if found is None:
            counted = conn.execute(spec.count_sql(first, leaf.rel), [*low, *upper]).fetchone()
            seen, end, finished = int(counted[0]) if counted else 0, list(upper), True
        else:
            seen, end = sizer.size, list(found)
            finished = end == list(upper)
        changed = conn.execute(spec.update_sql(first, leaf.rel), [*low, *end]).rowcount
        return changed, seen, end, finished

    def _blocks(
        self,
        conn: Conn,
        leaf: Leaf,
        last: list[Any] | None,
        end: list[Any],
        upper: list[Any],
        per_page: int,
    ) -> tuple[int, int, list[Any], bool]:
        """A block walk's batch from ``last`` to ``end``, on ``conn``, left uncommitted."""
        block, line = (int(v) for v in last) if last else (0, 0)
        changed = conn.execute(
            self.spec.update_blocks_sql(leaf.rel), (f"({block},{line})", f"({end[0]},{end[1]})")
        ).rowcount
        covered = (end[0] - block) * per_page + end[1] - line
        return changed, max(covered, changed), end, end[0] >= int(upper[0])

    def _ahead(
        self, leaf: Leaf, last: list[Any] | None, upper: list[Any], size: int, per_page: int
    ) -> list[tuple[Conn, Future[tuple[int, int, list[Any], bool]]]]:
        """The block walk's batches after the next one, started now, each on a session of
        its own, while the throttle allows more than one (none otherwise). Each holds its
        rows' locks until it commits after the batches before it."""
        if self.spec.walk != "blocks":
            return []
        # the plan's number, or fewer if the settings now say so (a plan is never exceeded)
        most = min(self.spec.sessions, self.settings.backfill.max_sessions)
        wanted = self.throttle.sessions(most) - 1
        out: list[tuple[Conn, Future[tuple[int, int, list[Any], bool]]]] = []
        start = _block_end(last, upper, size, per_page)
        for conn in self._others(wanted):
            if start[0] >= int(upper[0]):
                break
            end = _block_end(start, upper, size, per_page)
            assert self.pool is not None
            job = self.pool.submit(self._blocks, conn, leaf, start, end, upper, per_page)
            out.append((conn, job))
            start = end
        return out

    def _others(self, wanted: int) -> list[Conn]:
        """``wanted`` sessions besides the walk's own, opened when first needed; fewer if
        the server refuses more connections (the walk goes on with those it has)."""
        while len(self.others) < wanted and not self.no_more:
            try:
                conn = connect(self.url, autocommit=False, application_name=APPLICATION)
                conn.execute(SESSION_SQL, (f"{self.settings.lock_timeout_ms}ms",))
                conn.commit()
            except (ZdmError, psycopg.Error):
                self.no_more = True
                break
            self.throttle.own_session(conn.info.backend_pid)
            self.others.append(conn)
            self.pool = self.pool or ThreadPoolExecutor(
                max(self.spec.sessions - 1, 1), thread_name_prefix=APPLICATION
            )
        return self.others[: max(wanted, 0)]

    def _landed(
        self, ahead: list[tuple[Conn, Future[tuple[int, int, list[Any], bool]]]]
    ) -> list[tuple[Conn, int, int, list[Any], bool]]:
        """The batches ahead that ran, in order, up to the first that failed: that one and
        those after it are rolled back (the next batch starts there, on the walk's own
        session, which tells a row lock from a failing row)."""
        out: list[tuple[Conn, int, int, list[Any], bool]] = []
        for i, (conn, job) in enumerate(ahead):
            try:
                out.append((conn, *job.result()))
            except psycopg.Error:
                self._drop(ahead[i:])
                break
        return out

    def _drop(self, ahead: list[tuple[Conn, Future[tuple[int, int, list[Any], bool]]]]) -> None:
        """Roll back batches ahead, once they have stopped."""
        for _, job in ahead:
            job.exception()  # waits for it; its error, if any, is the walk's own to meet
        self._release([conn for conn, _ in ahead])

    def _release(self, sessions: list[Conn]) -> None:
        """Roll back what sessions ahead hold; one that cannot (lost) is closed, and the
        walk goes on without it (and opens no other)."""
        for conn in sessions:
            try:
                conn.rollback()
            except psycopg.Error:
                self.others.remove(conn)
                self.no_more = True
                conn.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        for conn in self.others:
            conn.close()

    def _mark(
        self,
        conn: Conn,
        leaf: Leaf,
        end: list[Any] | None,
        done: int,
        size: int,
        rate: float,
        status: str,
    ) -> tuple[int | None, bool]:
        """Write the checkpoint in the batch's transaction on ``conn`` and commit both:
        returns the leaf's file now and whether it still belongs to the table."""
        cur = conn.execute(
            CHECKPOINT_UPDATE_SQL,
            (
                Jsonb(end) if end is not None else None,
                done,
                size,
                rate,
                status,
                self.why,
                self.migration,
                self.spec.checkpoint_name,
                leaf.part,
                leaf.regclass,
                leaf.regclass,
                self.spec.regclass,
                leaf.regclass,
                self.spec.regclass,
            ),
        )
        row = cur.fetchone()
        conn.commit()
        if row is None:
            return None, True
        self.lag.committed(int(row[0]))
        return (int(row[1]) if row[1] is not None else None), bool(row[2])

    def _critical(self) -> str:
        why = self.throttle.critical()
        if why:
            self.store.set_paused(self.migration, True, why)
            return f"paused ({why}); 'zdmigrate resume {self.migration}' continues"
        return ""

    def _rest(self, batch_s: float, sessions: int) -> None:
        pace = self.throttle.pace(batch_s)
        self.why = pace.why + (f", {sessions} sessions at once" if sessions > 1 else "")
        if pace.rest_s > 0:
            time.sleep(pace.rest_s)

    def _name(self, leaf: Leaf) -> str:
        return f"{self.spec.table} ({leaf.part})" if leaf.part else self.spec.table

    def _show(
        self,
        leaf: Leaf,
        done: int,
        rate: float,
        size: int,
        paused: bool = False,
        finished: bool = False,
        why: str = "",
    ) -> None:
        total = max(self.total, self.done_before + done) or None
        self.progress(
            Progress(
                self.spec.table,
                self.done_before + done,
                total,
                rate,
                size,
                paused=paused,
                finished=finished,
                why=why,
                throttle=self.why,
                part=leaf.part,
            )
        )

    def _fail(
        self,
        leaf: Leaf,
        last: list[Any] | None,
        upper: list[Any],
        size: int,
        error: psycopg.Error,
    ) -> NoReturn:
        key, why = _failing_key(self.conn, self.spec, leaf, last, upper, size, error)
        where = f" at key {key}" if key is not None else ""
        raise BackfillError(
            f"{self.migration}: backfill of {self._name(leaf)} failed{where}: {why}",
            "fix the up expression (or the row) and run apply again",
        ) from error
