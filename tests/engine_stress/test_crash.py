"""Test set 3 of the engine issue: SIGKILL ``apply`` at chosen and random points, run it again.

Both app versions keep updating rows the whole time (the lossy text -> integer
change, so a value the new app wrote is corrupted if any backfill batch
recomputes it). After the last ``apply`` every committed write is there, the
columns agree, no row is left marked for the backfill, and the checkpoint
counted every row exactly once (a redone batch would count twice, a skipped
one would leave rows marked).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.engine_stress.workload import (
    LOSSY,
    Book,
    CliProcess,
    Threads,
    checkpoint,
    create_table,
    phase,
    run_cli,
    verify,
    wait_for,
    waiting_for_lock,
    write_migration,
    writer,
    zdmigrate_backends,
)

pytestmark = pytest.mark.slow

ROWS = 100_000
SC = LOSSY
FLAGS = ("--batch-size", "500", "--target-batch-ms", "20")
UPDATES_ONLY = {"update": 3, "note": 1}  # the set of keys stays 1..ROWS: rows_done must be ROWS

Conn = psycopg.Connection[Any]


def _rows_done(db: Conn) -> int:
    cp = checkpoint(db, SC.migration)
    return int(cp["rows_done"]) if cp else 0


def _walked(db: Conn) -> float:
    """How far the walk's checkpoint is through the table (0 before it starts, 1 at its end).

    Not the rows it counted: rows the apps wrote before the walk reached them are filled
    by the trigger and not counted, and a slower backfill leaves more of those.
    """
    cp = checkpoint(db, SC.migration)
    if cp is None or cp["status"] == "done":
        return 1.0 if cp else 0.0
    return cp["last"] / cp["upper"] if cp["upper"] else 0.0


def _kill_mid_backfill(
    db: Conn, proc: CliProcess, rng: random.Random, low: float, high: float
) -> str:
    """Kill once the walk passed a random fraction of the table, a few ms into the next batch."""
    target = rng.uniform(low, high)
    wait_for(lambda: _walked(db) >= target or not proc.running(), 60, f"{target:.0%} walked")
    time.sleep(rng.uniform(0.0, 0.02))
    proc.kill()
    return f"mid backfill at {_walked(db):.0%} of the table, {_rows_done(db)} rows (target {target:.0%})"


def _backfill_idle(db: Conn) -> bool:
    row = db.execute(
        "SELECT count(*) FILTER (WHERE state = 'idle'), count(*) FROM pg_stat_activity "
        "WHERE application_name = 'zdmigrate-backfill' AND datname = current_database()"
    ).fetchone()
    return bool(row and row[1] == 1 and row[0] == 1)


def _apply(db_url: str, path: Path, tmp_path: Path, tag: str) -> CliProcess:
    return CliProcess(db_url, "apply", str(path), "--format", "json", *FLAGS, cwd=tmp_path, tag=tag)


def _after_kill(db: Conn, proc: CliProcess) -> None:
    assert proc.proc.returncode == -9, f"apply was not killed: {proc.output()}"
    # the killed client's server session notices and ends; then its advisory lock is free
    wait_for(lambda: zdmigrate_backends(db) == 0, 15, "the killed apply's sessions to end", 0.02)


def scenario_expand(
    db_url: str, db: Conn, path: Path, tmp_path: Path, rng: random.Random, book: Book
) -> list[str]:
    """Killed while expand retries its lock (an app transaction holds the table)."""
    with psycopg.connect(db_url) as holder:
        holder.execute(f"LOCK TABLE {SC.table} IN ACCESS SHARE MODE")
        proc = _apply(db_url, path, tmp_path, "apply-1")
        wait_for(lambda: waiting_for_lock(db), 30, "apply to wait for its lock")
        time.sleep(rng.uniform(0.0, 0.8))
        assert phase(db, SC.migration) == "expanding"
        proc.kill()
    _after_kill(db, proc)
    assert checkpoint(db, SC.migration) is None
    return ["in expand, waiting for its lock"]


def scenario_mid_backfill(
    db_url: str, db: Conn, path: Path, tmp_path: Path, rng: random.Random, book: Book
) -> list[str]:
    proc = _apply(db_url, path, tmp_path, "apply-1")
    where = _kill_mid_backfill(db, proc, rng, 0.2, 0.7)
    _after_kill(db, proc)
    return [where]


def scenario_twice(
    db_url: str, db: Conn, path: Path, tmp_path: Path, rng: random.Random, book: Book
) -> list[str]:
    """Killed mid backfill, resumed, killed again further on."""
    first = _apply(db_url, path, tmp_path, "apply-1")
    where1 = _kill_mid_backfill(db, first, rng, 0.1, 0.35)
    _after_kill(db, first)
    second = _apply(db_url, path, tmp_path, "apply-2")
    where2 = _kill_mid_backfill(db, second, rng, 0.5, 0.8)
    _after_kill(db, second)
    return [where1, where2]


def scenario_between_batches(
    db_url: str, db: Conn, path: Path, tmp_path: Path, rng: random.Random, book: Book
) -> list[str]:
    """Paused after a batch (no transaction open), killed there, resumed.

    An app transaction keeps a row ahead of the backfill locked, so the backfill (which
    lets go and retries) cannot finish before the pause command, however slowly that starts.
    """
    proc = _apply(db_url, path, tmp_path, "apply-1")
    # a first batch committed (the throttle may first rest to measure the apps alone)
    wait_for(lambda: _rows_done(db) > 0, 30, "the backfill to start")
    key = ROWS - rng.randint(0, ROWS // 4)
    with psycopg.connect(db_url) as holder:
        with book.key_lock(key):
            holder.execute("UPDATE items SET note = 'held' WHERE id = %s", (key,))
            row = book.current(key)
            assert row is not None
            book.state[key] = (row[0], row[1], "held")
        assert _rows_done(db) < key, "the backfill passed the row before it was locked"
        paused = run_cli(db_url, "pause", SC.migration, cwd=tmp_path)
        assert paused.returncode == 0, paused.stderr

    def settled() -> bool:
        assert proc.running(), f"the backfill ended before the pause: {proc.output()}"
        before = _rows_done(db)
        time.sleep(0.15)
        return _backfill_idle(db) and _rows_done(db) == before

    wait_for(settled, 30, "the backfill to stop between batches")
    proc.kill()
    _after_kill(db, proc)
    where = f"between batches, paused at {_rows_done(db)} rows (row {key} was held)"
    resumed = run_cli(db_url, "resume", SC.migration, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    return [where]


SCENARIOS: dict[str, tuple[int, Callable[..., list[str]]]] = {
    "expand": (11, scenario_expand),
    "mid-backfill": (22, scenario_mid_backfill),
    "between-batches": (33, scenario_between_batches),
    "twice": (44, scenario_twice),
}


@pytest.mark.parametrize("case", list(SCENARIOS))
def test_apply_survives_sigkill(db: Conn, db_url: str, tmp_path: Path, case: str) -> None:
    seed, kill = SCENARIOS[case]
    rng = random.Random(seed)
    create_table(db, SC, ROWS)
    book = Book(SC, ROWS)
    path = write_migration(tmp_path, SC)
    apps = Threads()
    apps.start(writer, db_url, book, "old", seed, UPDATES_ONLY)
    apps.start(writer, db_url, book, "new", seed + 1, UPDATES_ONLY)
    try:
        kills = kill(db_url, db, path, tmp_path, rng, book)
        before = checkpoint(db, SC.migration)
        final = _apply(db_url, path, tmp_path, "apply-final")
        code = final.wait(timeout=120)
        time.sleep(0.2)
    finally:
        apps.stop()
    assert code == 0, final.output()
    result = json.loads(final.out_path.read_text())
    assert result["phase"] == "expanded" and result["resumed"] is True, result
    assert phase(db, SC.migration) == "expanded"

    cp = checkpoint(db, SC.migration)
    assert cp is not None and cp["status"] == "done"
    # the walk by blocks counts the rows it filled: none twice (a killed batch is redone
    # with its checkpoint), and no fewer than the rows the apps did not write first
    written = len({w.key for w in book.writes if w.key <= ROWS})
    assert ROWS - written <= cp["rows_done"] <= ROWS, f"counted {cp['rows_done']} of {ROWS}"
    if before is not None:
        # the last run resumed after the last committed batch, not from the start
        assert 0 < before["rows_done"] < ROWS
        assert result["rows_backfilled"] <= ROWS - before["rows_done"], (result, before)
    stats = verify(db, book)
    print(
        f"\n{case}: killed {'; '.join(kills)}; final run backfilled {result['rows_backfilled']}; "
        f"{stats['new_written']} values written by the new app"
    )
