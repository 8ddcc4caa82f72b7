"""The backfill's throttle: it paces batches by what the application feels.

A thread on a session of its own counts the other sessions of the database
at work every 100 ms (``ACTIVE_SQL``) and, while there are any, commits a
tiny transaction every 25 ms (``PROBE_SQL``: a commit waits for all WAL before
it to reach disk, the backfill's too, as the application's commits do). While
the backfill waits (paused, a replica lagging) it does neither. A probe that
ran wholly inside a batch measures the application's latency with the
backfill running; one that ran wholly inside a pause, without it: the
baseline, refreshed in every pause.

If the application slows down by a factor ``r`` while a batch runs and not
at all in a pause, it slows down on average by ``duty * (r - 1)``, where
``duty`` is the share of time batches run. The throttle keeps that within
``max_app_slowdown`` by resting ``(r - 1) / budget - 1`` times as long as each
batch took, never less than ``sleep_ratio``. With no other session at work it
runs at full speed. ``critical_active_sessions`` stops the backfill (as
``pause`` does) when that many sessions are at work at once.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from zdmigrate.config import Settings
from zdmigrate.engine.db import connect
from zdmigrate.plan.backfill import ACTIVE_SQL, PROBE_SQL

__all__ = ["Pace", "Throttle"]

PROBE_EVERY_S = 0.025
COUNT_EVERY_S = 0.1
# the baseline is refreshed at least this often, by a pause of REFRESH_S if need be
REFRESH_EVERY_S = 30.0
REFRESH_S = 0.3
MIN_SAMPLES = 5
MAX_REST_RATIO = 20.0


@dataclass(frozen=True)
class Pace:
    """What the throttle decided after a batch: rest this long, and why."""

    rest_s: float
    why: str


def _p75(values: list[float]) -> float:
    return statistics.quantiles(values, n=4)[2] if len(values) > 1 else values[0]


class Throttle:
    def __init__(self, url: str, settings: Settings, own_pids: list[int]) -> None:
        self.settings = settings
        self.url = url
        self.own = list(own_pids)
        b = settings.backfill
        self.budget = b.max_app_slowdown / (2 if b.priority == "low" else 1)
        # the least rest after a batch: sleep_ratio always; low priority, while others work
        self.floor = settings.sleep_ratio
        self.busy_floor = max(self.floor, 1.0 if b.priority == "low" else 0.0)
        self.ratio = 0.0  # the smoothed rest ratio the probes ask for
        self._batch = 0  # odd while a batch runs: a probe counts only if it saw no change
        self.inside: deque[float] = deque(maxlen=60)
        self.outside: deque[float] = deque(maxlen=120)
        self.active: deque[tuple[float, int, int]] = deque(maxlen=50)  # at, at work, unseen
        self.refreshed = time.monotonic()
        self.holding = False  # the backfill waits (paused, replica lag): no probes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str = ""

    # -- the probing thread

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="zdmigrate-throttle", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            with connect(self.url, autocommit=True, application_name="zdmigrate-throttle") as c:
                self.own.append(c.info.backend_pid)
                counted = 0.0
                while not self._stop.is_set():
                    if self.holding:  # no batch runs: nothing to measure, no WAL to write
                        self._stop.wait(COUNT_EVERY_S)
                        continue
                    took = 0.0
                    if self.others_at_work(COUNT_EVERY_S * 3) != 0:
                        gen = self._batch
                        t0 = time.perf_counter()
                        c.execute(PROBE_SQL).fetchone()
                        took = time.perf_counter() - t0
                        if gen == self._batch:
                            (self.inside if gen % 2 else self.outside).append(took)
                    now = time.monotonic()
                    if now - counted >= COUNT_EVERY_S:
                        counted = now
                        row = c.execute(ACTIVE_SQL, (self.own,)).fetchone()
                        at_work, unseen = (int(row[0]), int(row[1])) if row else (0, 0)
                        self.active.append((now, at_work, unseen))
                    self._stop.wait(max(PROBE_EVERY_S - took, 0.001))
        except psycopg.Error as exc:
            # without its probe the throttle cannot see the app: it says so and holds
            # the backfill to its floor and the replica-lag limit
            self.error = str(exc).strip().splitlines()[0] if str(exc).strip() else "error"

    # -- what the backfill asks

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Mark the time a batch runs: probes in it measure the app with the backfill."""
        self._batch += 1
        try:
            yield
        finally:
            self._batch += 1

    def others_at_work(self, within_s: float = 1.0) -> float | None:
        """Other sessions at work, on average over the last seconds (None: not counted).

        A session whose state this role cannot see counts as at work: without
        pg_read_all_stats the throttle cannot tell an idle app from a busy one."""
        now = time.monotonic()
        recent = [n + unseen for at, n, unseen in list(self.active) if now - at <= within_s]
        return sum(recent) / len(recent) if recent else None

    def unseen(self) -> int:
        return self.active[-1][2] if self.active else 0

    def critical(self) -> str:
        """Why the backfill must stop now ('' to go on)."""
        limit = self.settings.backfill.critical_active_sessions
        at_work = self.others_at_work(1.0)
        if limit and at_work is not None and at_work >= limit:
            return f"critical load: {at_work:.0f} other sessions at work >= {limit}"
        return ""

    def baseline_needed(self) -> bool:
        """Whether the next rest should be long enough to refresh the baseline."""
        if self.settings.backfill.priority == "high" or self.error:
            return False
        stale = time.monotonic() - self.refreshed >= REFRESH_EVERY_S
        return stale or len(self.outside) < MIN_SAMPLES

    def pace(self, batch_s: float) -> Pace:
        """How long to rest after a batch that took ``batch_s``, and why."""
        floor = self.floor * batch_s
        if self.settings.backfill.priority == "high":
            return Pace(floor, "priority high: no throttle")
        if self.error:
            return Pace(floor, f"throttle off, its probe failed: {self.error}")
        at_work = self.others_at_work()
        if at_work is None or at_work < 0.05:  # None: not counted yet, or since a wait
            self.ratio = 0.0
            return Pace(floor, "no other session at work: full speed")
        inside, outside = list(self.inside), list(self.outside)
        if len(inside) < MIN_SAMPLES or len(outside) < MIN_SAMPLES:
            return self._rest(batch_s, "measuring the app")
        base = _p75(outside)
        slowdown = _p75(inside) / base if base > 0 else 1.0
        want = max((slowdown - 1) / self.budget - 1, 0.0)
        self.ratio = min(0.5 * self.ratio + 0.5 * want, MAX_REST_RATIO)
        why = f"app {slowdown:.1f}x its latency ({base * 1000:.1f} ms)"
        if self.unseen():
            why += f", {self.unseen()} sessions unseen (grant pg_read_all_stats)"
        return self._rest(batch_s, why)

    def _rest(self, batch_s: float, why: str) -> Pace:
        ratio = max(self.ratio, self.busy_floor)
        rest = ratio * batch_s
        if self.baseline_needed():
            self.refreshed = time.monotonic()
            self.outside.clear()
            return Pace(max(rest, REFRESH_S), f"{why}: measuring without the backfill")
        what = f"pausing {rest * 1000:.0f} ms per batch" if rest >= 0.001 else "full speed"
        return Pace(rest, f"{why}: {what}")
