"""The backfill's throttle: it paces batches by what the application feels.

A thread on a session of its own counts the other sessions of the database
at work every 100 ms (``ACTIVE_SQL``) and, while there are any, commits a
tiny transaction every 25 ms (``PROBE_SQL``: a commit waits for all WAL before
it to reach disk, the backfill's too, as the application's commits do). While
the backfill waits (paused, a replica lagging) it does neither.

The probes' mean latency over the last 1.5 s, against the mean latency with
no backfill running, is how much slower the application is now. That
baseline is measured in a pause of its own before the first batch the app
sees, again 10 s later, then every 30 s, leaving out the first 0.3 s in which
the last batch's WAL is still being written. The first pause, right after
expand and zdmigrate's own start (which slow the app for a second or two of
their own), lasts 2.5 s and leaves out its first second. A rest of a second
does not undo all the backfill left behind (checkpoints come sooner and the
app's first write to each page after one logs the whole page; autovacuum
follows the batches), so the baseline is the fastest of those measured in the
last 5 minutes, and the app's write rate without the backfill the highest: a
slowed app is not taken for the app.

Twice a second the throttle compares that slowdown with half of
``max_app_slowdown`` (``AIM``): over it, it rests longer after each batch (by
as much as it is over, 1.3 to 3 times); under a quarter of the budget,
shorter (by 30 %, down to none). It starts, and starts again when the app
appears, resting three times as long as each batch ran. The rest is never
below ``sleep_ratio``. With no other session at work it runs at full speed;
after 3 s with none seen at work and the app's writes at about none, on up to
``max_sessions`` sessions at once (``sessions``).
``critical_active_sessions`` stops the backfill (as ``pause`` does) when that
many sessions are at work.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass

import psycopg

from zdmigrate.config import Settings
from zdmigrate.engine.db import connect
from zdmigrate.plan.backfill import ACTIVE_SQL, PROBE_SQL

__all__ = ["Pace", "Throttle"]

PROBE_EVERY_S = 0.025
COUNT_EVERY_S = 0.1
# the baseline: a rest of BASELINE_S, leaving out its first SETTLE_S, every BASELINE_EVERY_S
BASELINE_S = 1.0
SETTLE_S = 0.3
# the first rest comes right after expand (and zdmigrate's own start), which slow the app
# for a second or two of their own: it lasts longer and leaves out more
FIRST_BASELINE_S = 2.5
FIRST_SETTLE_S = 1.0
BASELINE_EVERY_S = 30.0
# the second rest comes sooner: the first, however long, often still read an app slowed by
# expand (0.87-0.94 of its rate before apply, the next rests 0.94-1.0), and the fastest counts
SECOND_BASELINE_AFTER_S = 10.0
BASELINE_MEMORY_S = 300.0  # how long a baseline counts (the app's own load may change)
WINDOW_S = 1.5  # the probes that tell how the app is now
DECIDE_EVERY_S = 0.5
# from the start, and while the app is first measured, batches run a quarter of the time
# (at full speed a busy app on 2 cores lost a third of its throughput in the first
# seconds, before the first decisions slowed the backfill down)
START_RATIO = 3.0
START_BATCH_SCALE = 0.5  # and half as long: each row lock a batch holds is an app's wait
MIN_SAMPLES = 5
# the slowdown the throttle aims at, as a share of the budget: the app's own rate moves by
# 5-10 % from one second to the next, and the trigger expand installed costs it on top of
# the batches, so aiming at the budget itself overshoots it
AIM = 0.5
MAX_REST_RATIO = 20.0
MIN_BATCH_SCALE = 0.2
MIN_APP_RATE = 20.0  # writing transactions per second below which the rate says nothing
# more than one session only with nobody else seen at work in the counts of the last
# IDLE_FOR_S and (almost) no transaction ids taken but zdmigrate's: a light app (a write
# every 5 ms) is at work in few of the 100-ms counts, but its writes show; a second
# session taken whenever the counts missed it made its p99 three times as long (6x idle
# against 2x)
IDLE_FOR_S = 3.0
IDLE_WRITES_PER_S = 5.0


@dataclass(frozen=True)
class Pace:
    """What the throttle decided after a batch: rest this long, and why."""

    rest_s: float
    why: str


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
        # the rest after each batch, as a share of the batch's time: from the start, since
        # the app may be at work before the first batch
        self.ratio = START_RATIO
        self.samples: deque[tuple[float, float]] = deque(maxlen=400)  # (at, latency s)
        # (at, at work, unseen, waiting for a lock)
        self.active: deque[tuple[float, int, int, int]] = deque(maxlen=50)
        # (at, next transaction id, transaction ids zdmigrate used so far): the app's writes
        self.xids: deque[tuple[float, int, int]] = deque(maxlen=100)
        self.own_xids = 0
        self.base_rate: float | None = None
        # of target_batch_ms: shorter batches hold row locks less long
        self.batch_scale = START_BATCH_SCALE
        self.lock_share = 0.0
        self.baseline: float | None = None
        self.baseline_at = 0.0
        # (at, probes' mean latency, app's write rate) of each rest, either None if unknown
        self.baselines: deque[tuple[float, float | None, float | None]] = deque(maxlen=100)
        self.decided_at = 0.0
        self.slowdown = 0.0
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
                        t0 = time.perf_counter()
                        c.execute(PROBE_SQL).fetchone()
                        took = time.perf_counter() - t0
                        self.own_xids += 1
                        self.samples.append((time.monotonic(), took))
                    now = time.monotonic()
                    if now - counted >= COUNT_EVERY_S:
                        counted = now
                        row = c.execute(ACTIVE_SQL, (self.own,)).fetchone()
                        counts = tuple(int(v) for v in row) if row else (0, 0, 0, 0)
                        self.active.append((now, counts[0], counts[1], counts[2]))
                        self.xids.append((now, counts[3], self.own_xids))
                    self._stop.wait(max(PROBE_EVERY_S - took, 0.001))
        except psycopg.Error as exc:
            # without its probe the throttle cannot see the app: it says so and holds
            # the backfill to its floor and the replica-lag limit
            self.error = str(exc).strip().splitlines()[0] if str(exc).strip() else "error"

    # -- what the backfill asks

    def others_at_work(self, within_s: float = 1.0) -> float | None:
        """Other sessions at work, on average over the last seconds (None: not counted).

        A session whose state this role cannot see counts as at work: without
        pg_read_all_stats the throttle cannot tell an idle app from a busy one."""
        now = time.monotonic()
        recent = [n + unseen for at, n, unseen, _ in list(self.active) if now - at <= within_s]
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

    def _watching(self) -> bool:
        """Whether the app is there to be watched (throttle on, probe alive, others at work)."""
        if self.settings.backfill.priority == "high" or self.error:
            return False
        at_work = self.others_at_work()
        return at_work is not None and at_work >= 0.05

    def baseline_due(self) -> bool:
        """Whether the backfill should rest now to measure the app without it."""
        every = SECOND_BASELINE_AFTER_S if len(self.baselines) == 1 else BASELINE_EVERY_S
        stale = time.monotonic() - self.baseline_at >= every
        return self._watching() and (self.baseline is None or stale)

    def sessions(self, most: int) -> int:
        """How many sessions may run batches at once: ``most`` at priority high, and at
        priority normal while no other session is at work and no rest is asked for
        (``sleep_ratio``); else one. (Low priority keeps to one.)"""
        priority = self.settings.backfill.priority
        if priority == "high":
            return most
        if priority == "normal" and not self.floor and not self.error and self._idle():
            return most
        return 1

    def _idle(self) -> bool:
        """Nobody else at work for the last IDLE_FOR_S, by both signs: no other session
        seen at work in any count, and the app's writes (transaction ids) at about none
        (unknown until the write rate has been read over half a second)."""
        if self.others_at_work(IDLE_FOR_S) != 0:
            return False
        rate = self.app_rate(time.monotonic() - IDLE_FOR_S)
        return rate is not None and rate < IDLE_WRITES_PER_S

    def own_session(self, pid: int) -> None:
        """Another session of the backfill's: not the app's, so not counted as at work."""
        self.own.append(pid)

    def batch_share(self) -> float:
        """How long batches may run, as a share of target_batch_ms: all of it unless the
        app is there and waits for the batches' row locks."""
        return self.batch_scale if self._watching() else 1.0

    def batch_committed(self) -> None:
        self.own_xids += 1  # a batch and its checkpoint: one transaction

    def app_rate(self, since: float) -> float | None:
        """The app's writing transactions per second since ``since`` (zdmigrate's left out)."""
        points = [p for p in list(self.xids) if p[0] >= since]
        if len(points) < 2 or points[-1][0] - points[0][0] < 0.5:
            return None
        (t0, x0, o0), (t1, x1, o1) = points[0], points[-1]
        return max((x1 - x0) - (o1 - o0), 0) / (t1 - t0)

    def measure_baseline(self) -> None:
        """Rest BASELINE_S; the probes after the first SETTLE_S are the app without us
        (the first rest: FIRST_BASELINE_S, leaving out FIRST_SETTLE_S)."""
        first = not self.baselines
        start = time.monotonic()
        time.sleep(FIRST_BASELINE_S if first else BASELINE_S)
        self.record_baseline(start + (FIRST_SETTLE_S if first else SETTLE_S))

    def record_baseline(self, since: float) -> None:
        """Take the probes and write rate since ``since`` as a baseline; keep the
        fastest latency and the highest rate of the last BASELINE_MEMORY_S."""
        values = [lat for at, lat in list(self.samples) if at >= since]
        now = self.baseline_at = time.monotonic()
        latency = statistics.fmean(values) if len(values) >= MIN_SAMPLES else None
        self.baselines.append((now, latency, self.app_rate(since)))
        recent = [b for b in self.baselines if now - b[0] <= BASELINE_MEMORY_S]
        latencies = [lat for _, lat, _ in recent if lat is not None]
        rates = [rate for _, _, rate in recent if rate is not None]
        self.baseline = min(latencies) if latencies else None
        self.base_rate = max(rates) if rates else None

    def pace(self, batch_s: float) -> Pace:
        """How long to rest after a batch that took ``batch_s``, and why."""
        floor = self.floor * batch_s
        if self.settings.backfill.priority == "high":
            return Pace(floor, "priority high: no throttle")
        if self.error:
            return Pace(floor, f"throttle off, its probe failed: {self.error}")
        if not self._watching():
            # full speed, and where to start from when the app comes
            self.ratio, self.batch_scale = START_RATIO, START_BATCH_SCALE
            return Pace(floor, "no other session at work: full speed")
        now = time.monotonic()
        recent = [lat for at, lat in list(self.samples) if at >= now - WINDOW_S]
        if self.baseline is None or len(recent) < MIN_SAMPLES:
            self.ratio = max(self.ratio, START_RATIO)
            self.batch_scale = min(self.batch_scale, START_BATCH_SCALE)
            return self._rest(batch_s, "measuring the app")
        if now - self.decided_at >= DECIDE_EVERY_S:
            self.decided_at = now
            self._decide(statistics.fmean(recent) / self.baseline, now)
        why = (
            f"app {1 + self.slowdown:.2f}x its latency ({self.baseline * 1000:.1f} ms, "
            f"{self.lock_share:.0%} waiting for row locks)"
        )
        if self.unseen():
            why += f", {self.unseen()} sessions unseen (grant pg_read_all_stats)"
        return self._rest(batch_s, why)

    def _decide(self, probe_ratio: float, now: float) -> None:
        """The app's slowdown now, and the rest and batch length that answer it.

        The probe's commits tell the cost in WAL and CPU; a session waiting for a row
        lock (one a running batch updated) waits on top of that, so the share of the
        app's sessions found waiting for locks counts too: ``ratio / (1 - share)``. And
        the app's writing transactions per second, against their rate in the baseline,
        tell what it lost in throughput."""
        window = [(n, w) for at, n, _, w in list(self.active) if now - at <= WINDOW_S]
        working = sum(n for n, _ in window)
        self.lock_share = min(sum(w for _, w in window) / working, 0.9) if working else 0.0
        self.slowdown = probe_ratio / (1 - self.lock_share) - 1
        # an app that writes as fast as it can shows its loss in throughput: the larger
        # of the two counts (one that writes little shows no loss there)
        rate = self.app_rate(now - WINDOW_S)
        if self.base_rate and self.base_rate >= MIN_APP_RATE and rate is not None:
            self.slowdown = max(self.slowdown, self.base_rate / max(rate, 1.0) - 1)
        over = self.slowdown / (self.budget * AIM)
        if over > 1:
            self.ratio = min(max(self.ratio * min(max(over, 1.3), 3.0), 0.25), MAX_REST_RATIO)
        elif over < 0.5:
            self.ratio = self.ratio * 0.7 if self.ratio >= 0.05 else 0.0
        if self.lock_share > self.budget / 2:
            self.batch_scale = max(self.batch_scale * 0.7, MIN_BATCH_SCALE)
        elif self.lock_share < self.budget / 8:
            self.batch_scale = min(self.batch_scale * 1.2, 1.0)

    def _rest(self, batch_s: float, why: str) -> Pace:
        rest = max(self.ratio, self.busy_floor) * batch_s
        what = f"pausing {rest * 1000:.0f} ms per batch" if rest >= 0.001 else "full speed"
        if self.batch_scale < 1:
            what += f", batches {self.batch_scale:.0%} as long"
        return Pace(rest, f"{why}: {what}")
