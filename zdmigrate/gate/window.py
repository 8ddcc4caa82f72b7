"""The observation window: counters of several sources, a window apart.

Each gate run stores a snapshot of every counter source (``gate_snapshots``).
A run compares with the newest stored snapshot that is at least a window old;
when a source has none, it takes one, waits the window once for all of them
(showing a countdown) and reads again. ``rebaseline`` forgets the snapshots
and records the time from which sessions count as the new version's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

__all__ = ["BASELINE", "Reader", "baseline_time", "observe", "rebaseline"]

Conn = psycopg.Connection[Any]
# counters by name; a reader may return more than counts (say a statement's text) as a
# list whose first item is the count: only the count is stored
Reader = Callable[[Conn], dict[str, Any]]
BASELINE = "baseline"  # the gate_snapshots row that --rebaseline writes


def _count(value: Any) -> int:
    return int(value[0] if isinstance(value, list) else value)


def _store(conn: Conn, migration: str, source: str, data: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO zdmigrate.gate_snapshots (migration, source, data) VALUES (%s, %s, %s)",
        (migration, source, Jsonb({k: _count(v) for k, v in data.items()})),
    )


def _stored(conn: Conn, migration: str, source: str, window_s: float) -> dict[str, int] | None:
    row = conn.execute(
        "SELECT data FROM zdmigrate.gate_snapshots WHERE migration = %s AND source = %s "
        "AND taken_at <= now() - make_interval(secs => %s) "
        "AND taken_at >= coalesce((SELECT max(taken_at) FROM zdmigrate.gate_snapshots "
        "  WHERE migration = %s AND source = %s), '-infinity') "
        "ORDER BY taken_at DESC LIMIT 1",
        (migration, source, window_s, migration, BASELINE),
    ).fetchone()
    return {k: int(v) for k, v in row[0].items()} if row else None


def observe(
    conn: Conn,
    migration: str,
    readers: Mapping[str, Reader],
    window_s: float,
    echo: Callable[[str], None],
) -> dict[str, tuple[dict[str, int], dict[str, Any]]]:
    """Per source: (its counts at least a window ago, what its reader returns now)."""
    before: dict[str, dict[str, int]] = {}
    wait = False
    for source, read in readers.items():
        stored = _stored(conn, migration, source, window_s)
        if stored is None:
            first = read(conn)
            _store(conn, migration, source, first)
            stored = {k: _count(v) for k, v in first.items()}
            wait = True
        before[source] = stored
    if wait:
        watched = ", ".join(readers)
        deadline = time.monotonic() + window_s
        while (left := deadline - time.monotonic()) > 0:
            echo(f"gate: watching {watched}, {left:.0f} s left")
            time.sleep(min(left, 5.0))
    result = {}
    for source, read in readers.items():
        now = read(conn)
        _store(conn, migration, source, now)
        result[source] = (before[source], now)
    return result


def rebaseline(conn: Conn, migration: str) -> None:
    """From now on: sessions count as old only if they connected before now, and
    counters are compared only with snapshots taken from now on."""
    conn.execute(
        "INSERT INTO zdmigrate.gate_snapshots (migration, source, data) VALUES (%s, %s, '{}')",
        (migration, BASELINE),
    )


def baseline_time(conn: Conn, migration: str) -> Any:
    """When ``--rebaseline`` last ran for ``migration`` (None: never)."""
    row = conn.execute(
        "SELECT max(taken_at) FROM zdmigrate.gate_snapshots WHERE migration = %s AND source = %s",
        (migration, BASELINE),
    ).fetchone()
    return row[0] if row else None
