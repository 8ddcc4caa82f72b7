"""Test set 2 of the engine issue: old and new apps write while ``apply`` expands and backfills.

Writers run random single-row INSERT/UPDATE/DELETE through both versions for
the whole of ``apply`` (expand, backfill of 100,000 rows, validation). At the
end every committed write is in the table (last value per key, deleted keys
absent) and the old and new physical columns agree: new = up(old), or
old = down(new) where the new app wrote the value last.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.engine_stress.workload import (
    LOSSY,
    PHYSICAL_ADD,
    ROUNDTRIP,
    WEIGHTS,
    Book,
    CliProcess,
    Monitor,
    Scenario,
    Threads,
    checkpoint,
    create_table,
    flooder,
    phase,
    verify,
    write_migration,
    writer,
)

pytestmark = pytest.mark.slow

ROWS = 100_000
CHUNK = 40
SLOW_BACKFILL = ("--batch-size", "500", "--target-batch-ms", "20")


@pytest.mark.parametrize(
    "sc", [ROUNDTRIP, LOSSY, PHYSICAL_ADD], ids=["roundtrip", "lossy", "physical-add-column"]
)
def test_writers_of_both_versions_during_apply(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path, sc: Scenario
) -> None:
    create_table(db, sc, ROWS)
    book = Book(sc, ROWS)
    path = write_migration(tmp_path, sc)
    apps = Threads()
    monitor = Monitor(db_url, sc.migration, sc.table)
    monitor.start()
    for i in range(2):
        apps.start(writer, db_url, book, "old", 100 + i, WEIGHTS)
        apps.start(writer, db_url, book, "new", 200 + i, WEIGHTS)
    try:
        time.sleep(0.3)  # the old app is busy before expand starts
        apply = CliProcess(
            db_url, "apply", str(path), "--mode", sc.mode, *SLOW_BACKFILL, cwd=tmp_path, tag="apply"
        )
        code = apply.wait(timeout=120)
        time.sleep(0.2)  # and keeps writing, with the new app, once apply is done
    finally:
        apps.stop()
        monitor.stop()
    assert code == 0, apply.output()
    assert phase(db, sc.migration) == "expanded"
    cp = checkpoint(db, sc.migration)
    assert cp is not None and cp["status"] == "done"

    stats = verify(db, book)

    by_version = {v: sum(1 for w in book.writes if w.version == v) for v in ("old", "new")}
    ahead_old = monitor.ahead(book.writes, "old")
    ahead_new = monitor.ahead(book.writes, "new")
    print(
        f"\n{sc.migration}: {stats['rows']} rows, writes {by_version}, ahead of the backfill: "
        f"old {ahead_old}, new {ahead_new}, rows_done {cp['rows_done']}"
    )
    # the race this test is about did happen: both apps wrote rows the backfill had not reached
    assert ahead_old > 0 and ahead_new > 0, (ahead_old, ahead_new)
    assert stats["new_written"] > 0


def test_inserts_outrun_the_backfill(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path
) -> None:
    """Rows are inserted (both versions, keys above the upper bound) faster than the backfill
    walks; the backfill still ends at the bound it read, and the triggers fill the new rows."""
    sc = LOSSY
    create_table(db, sc, ROWS)
    book = Book(sc, ROWS)
    path = write_migration(tmp_path, sc)
    # a throttled backfill (it rests as long as each batch ran), as on a busy production server
    (tmp_path / "pyproject.toml").write_text("[tool.zdmigrate]\nsleep_ratio = 1.0\n")
    apps = Threads()
    for _ in range(2):
        apps.start(flooder, db_url, book, "old", CHUNK)
        apps.start(flooder, db_url, book, "new", CHUNK)
    try:
        time.sleep(0.2)
        apply = CliProcess(db_url, "apply", str(path), *SLOW_BACKFILL, cwd=tmp_path, tag="apply")
        started = time.monotonic()
        code = apply.wait(timeout=120)
        took = time.monotonic() - started
    finally:
        apps.stop()
    assert code == 0, apply.output()
    cp = checkpoint(db, sc.migration)
    assert cp is not None and cp["status"] == "done"
    during = [w for w in book.writes if started <= w.at <= started + took]
    inserted = sum(hi - lo + 1 for _, lo, hi in book.floods if lo > cp["upper"])
    verify(db, book)
    rate_in = len(during) * CHUNK / took
    rate_backfill = cp["rows_done"] / took
    print(
        f"\ninserted {inserted} rows above the upper bound {cp['upper']}; "
        f"{rate_in:,.0f} rows/s inserted vs {rate_backfill:,.0f} rows/s backfilled (apply {took:.1f} s)"
    )
    assert inserted > cp["rows_done"], (
        f"the inserts did not outrun the backfill: {inserted} rows inserted above the bound "
        f"while the backfill walked {cp['rows_done']}"
    )
