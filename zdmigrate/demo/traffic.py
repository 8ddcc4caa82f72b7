"""The apps' traffic and what it saw.

Each app version sends requests at a steady pace on one connection. A request
is timed from when it was due, not from when it could start: when the table is
locked for two seconds, every request due in those two seconds waits, and the
figures say so (the queue drains at full speed afterwards).
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.numeric import Int8

from zdmigrate.demo.scenario import Queries

__all__ = ["App", "LockMonitor", "Recorder", "Sample", "VersionStats", "p99"]


@dataclass(frozen=True)
class Sample:
    """One request: when it ended (seconds into the run), its version, how long it took
    from when it was due, and its error ('' when it succeeded)."""

    t: float
    version: str
    latency: float
    error: str


def p99(latencies: list[float]) -> float:
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return ordered[max(math.ceil(0.99 * len(ordered)) - 1, 0)]


@dataclass(frozen=True)
class VersionStats:
    version: str
    requests: int
    failed: int
    p99_s: float
    longest_s: float
    errors: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "requests": self.requests,
            "failed": self.failed,
            "p99_ms": round(self.p99_s * 1000, 2),
            "longest_ms": round(self.longest_s * 1000, 2),
            "errors": self.errors,
        }


class Recorder:
    """Every request of a run. Appending to a list is atomic under the GIL: the apps'
    threads add, the live view and the report read a copy."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.samples: list[Sample] = []
        self.failures: dict[str, int] = {}

    def now(self) -> float:
        return time.monotonic() - self.start

    def add(self, version: str, due: float, error: str) -> None:
        end = time.monotonic()
        self.samples.append(Sample(end - self.start, version, end - due, error))
        if error:  # one writer per version: each app counts its own
            self.failures[version] = self.failures.get(version, 0) + 1

    def stats(self, version: str) -> VersionStats:
        mine = [s for s in list(self.samples) if s.version == version]
        errors: dict[str, int] = {}
        for s in mine:
            if s.error:
                errors[s.error] = errors.get(s.error, 0) + 1
        latencies = [s.latency for s in mine]
        return VersionStats(
            version,
            len(mine),
            sum(errors.values()),
            p99(latencies),
            max(latencies, default=0.0),
            errors,
        )

    def recent(self, version: str, seconds: float) -> tuple[float, int, float]:
        """Over the last ``seconds``: requests/s, failed requests, p99 latency."""
        since = self.now() - seconds
        mine = []
        for s in reversed(list(self.samples)):
            if s.t < since:
                break
            if s.version == version:
                mine.append(s)
        failed = sum(1 for s in mine if s.error)
        return len(mine) / seconds, failed, p99([s.latency for s in mine])


@dataclass
class Counts:
    """What an app got done: the updates and signups that committed."""

    updates: int = 0
    signups: int = 0


class App(threading.Thread):
    """One app version: ``rate`` requests per second (60 % reads, 30 % updates, 10 %
    signups) on one connection, until stopped. Failures are recorded, never raised."""

    def __init__(
        self,
        url: str,
        version: str,
        queries: Queries,
        recorder: Recorder,
        rate: float,
        rows: int,
        application_name: str,
        search_path: str | None = None,
    ) -> None:
        super().__init__(name=f"demo {version}", daemon=True)
        self.url, self.version, self.queries = url, version, queries
        self.recorder, self.rate, self.rows = recorder, rate, rows
        self.application_name, self.search_path = application_name, search_path
        self.stopping = threading.Event()
        self.counts = Counts()
        self.random = random.Random(hash(version))

    def stop(self) -> None:
        self.stopping.set()
        self.join()

    def _connect(self) -> psycopg.Connection[Any]:
        options = f"-c search_path={self.search_path}" if self.search_path else None
        kwargs: dict[str, Any] = {"application_name": self.application_name}
        if options:
            kwargs["options"] = options
        return psycopg.connect(self.url, autocommit=True, **kwargs)

    def run(self) -> None:
        interval = 1.0 / self.rate
        due = time.monotonic()
        conn: psycopg.Connection[Any] | None = None
        while not self.stopping.is_set():
            wait = due - time.monotonic()
            if wait > 0:
                self.stopping.wait(wait)
                continue
            try:
                conn = conn if conn is not None and not conn.closed else self._connect()
                self._request(conn)
                error = ""
            except psycopg.Error as exc:
                error = type(exc).__name__
                if conn is not None and conn.broken:
                    conn.close()
                    conn = None
            self.recorder.add(self.version, due, error)
            due += interval
        if conn is not None:
            conn.close()

    def _request(self, conn: psycopg.Connection[Any]) -> None:
        q = self.queries
        draw = self.random.random()
        key = Int8(self.random.randint(1, self.rows))
        if draw < 0.6:
            conn.execute(q.read, (key,)).fetchall()
        elif draw < 0.9:
            conn.execute(q.update, (Int8(1), key)).fetchall()
            self.counts.updates += 1
        else:
            user = f"signup{self.random.getrandbits(40)}@{self.version.replace(' ', '-')}.test"
            params = (user, user.split("@")[1]) if q.new_names else (user,)
            conn.execute(q.insert, params).fetchall()
            self.counts.signups += 1


class LockMonitor(threading.Thread):
    """Samples, every 50 ms, how long the longest waiting lock request has waited
    (pg_stat_activity, on a connection of its own that the gate does not count)."""

    QUERY = (
        "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0)::float8 "
        "FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )

    def __init__(self, url: str) -> None:
        super().__init__(name="demo lock monitor", daemon=True)
        self.url = url
        self.stopping = threading.Event()
        self.longest = 0.0
        self.now = 0.0

    def stop(self) -> None:
        self.stopping.set()
        self.join()

    def run(self) -> None:
        with psycopg.connect(
            self.url, autocommit=True, application_name="zdmigrate-demo-monitor"
        ) as conn:
            while not self.stopping.wait(0.05):
                row = conn.execute(self.QUERY).fetchone()
                self.now = float(row[0]) if row else 0.0
                self.longest = max(self.longest, self.now)
