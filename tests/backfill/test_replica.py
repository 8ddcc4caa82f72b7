"""The backfill waits between batches while a streaming replica lags behind."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.backfill.replica import Replicated, replicated_pair
from tests.backfill.test_backfill_db import WIDEN

pytestmark = [pytest.mark.slow, pytest.mark.db]

APPLY_DELAY_MS = 1500


@pytest.fixture(scope="module")
def pair() -> Iterator[Replicated]:
    with replicated_pair(APPLY_DELAY_MS) as running:
        yield running


def _apply(pair: Replicated, tmp_path: Path, max_lag_s: float) -> tuple[float, str]:
    url = pair.primary_url
    name = "0001_widen"
    database = f"lag_{str(max_lag_s).replace('.', '_')}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    db_url = url.rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v integer NOT NULL)")
        conn.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 300000) g")
    config = tmp_path / "pyproject.toml"
    config.write_text(
        "[tool.zdmigrate]\n"
        f"max-replica-lag-s = {max_lag_s}\n"
        "batch-size = 2000\nmin-batch-size = 2000\nmax-batch-size = 2000\n"
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(WIDEN)
    time.sleep(APPLY_DELAY_MS / 1000 + 2.5)  # the replica has applied the load; lag cleared
    cmd = [sys.executable, "-m", "zdmigrate", "--config", str(config), "--database-url"]
    start = time.monotonic()
    done = subprocess.run(
        [*cmd, db_url, "apply", "--no-verify", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    with psycopg.connect(db_url) as conn:
        wrong = conn.execute("SELECT count(*) FROM t WHERE _zdm_v IS DISTINCT FROM v * 2")
        assert wrong.fetchone() == (0,)
    return seconds, done.stderr


def test_backfill_holds_while_the_replica_lags(pair: Replicated, tmp_path: Path) -> None:
    seconds, progress = _apply(pair, tmp_path, max_lag_s=0.2)
    waits = [line for line in progress.splitlines() if "waiting: replica lag" in line]
    assert waits, progress
    # 150 batches of a few ms each (the walk by blocks is fast: fewer rows could end
    # before 0.2 s of lag builds up); the replica applies each 1.5 s late, so
    # once the oldest batch it has not applied is 0.2 s old the backfill waits
    assert seconds >= APPLY_DELAY_MS / 1000, progress


def test_backfill_runs_through_when_the_lag_is_under_the_limit(
    pair: Replicated, tmp_path: Path
) -> None:
    _, progress = _apply(pair, tmp_path, max_lag_s=30)
    assert "waiting" not in progress
