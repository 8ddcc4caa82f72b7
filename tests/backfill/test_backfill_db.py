"""Backfill on a real server: key types, pausing, injected slowdowns, verification."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cli_helpers import zdm

Conn = psycopg.Connection[Any]

WIDEN = """
- alter_column:
    table: t
    column: v
    type: bigint
    up: v::bigint * 2
    down: (v / 2)::integer
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return str(path)


def _checkpoint(db: Conn, name: str) -> tuple[int, str, int]:
    row = db.execute(
        "SELECT rows_done, status, batch_size FROM zdmigrate.backfill_checkpoints "
        "WHERE migration = %s",
        (name,),
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1]), int(row[2] or 0)


KEYS = {
    "integer": ("id integer PRIMARY KEY", "id", "g"),
    "bigint": ("id bigint PRIMARY KEY", "id", "g::bigint * 1000000000"),
    "uuid": ("id uuid PRIMARY KEY", "id", "md5(g::text)::uuid"),
    "text": ("id text PRIMARY KEY", "id", "'k' || g"),
    "composite": ("a int, b text, PRIMARY KEY (a, b)", "a, b", "g % 7, 'b' || g"),
    "unique not null": ("u text NOT NULL UNIQUE", "u", "'u' || g"),
}


@pytest.mark.parametrize("key", KEYS, ids=list(KEYS))
def test_every_key_type_backfills_and_verifies(
    key: str, db_url: str, db: Conn, tmp_path: Path
) -> None:
    columns, names, values = KEYS[key]
    db.execute(f"CREATE TABLE t ({columns}, v integer NOT NULL)")
    db.execute(f"INSERT INTO t ({names}, v) SELECT {values}, g FROM generate_series(1, 3000) g")
    path = _write(tmp_path, "0001_widen", WIDEN)
    res = zdm("--database-url", db_url, "apply", "--batch-size", "500", path)
    assert res.exit_code == 0, res.stderr
    assert _checkpoint(db, "0001_widen")[:2] == (3000, "done")
    wrong = db.execute("SELECT count(*) FROM t WHERE _zdm_v <> v::bigint * 2").fetchone()
    assert wrong == (0,)
    checked = zdm("--database-url", db_url, "verify", "0001_widen", "--format", "json")
    assert checked.exit_code == 0
    assert json.loads(checked.stdout)["tables"][0]["rows_checked"] == 3000
    assert zdm("--database-url", db_url, "complete", "0001_widen").exit_code == 0
    assert db.execute("SELECT sum(v) FROM t").fetchone() == (3000 * 3001,)


def test_table_without_a_usable_key_is_refused(db_url: str, db: Conn, tmp_path: Path) -> None:
    db.execute("CREATE TABLE t (id int, v integer NOT NULL)")
    db.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 10) g")
    res = zdm("--database-url", db_url, "apply", _write(tmp_path, "0001_widen", WIDEN))
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "error: 0001_widen: table 't' has no primary key or unique NOT NULL key, so its rows "
        "cannot be backfilled in batches (hint: add a primary key (create_constraint, or a "
        "unique index on NOT NULL columns) first)"
    ]
    cols = db.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't' "
        "ORDER BY ordinal_position"
    ).fetchall()
    assert cols == [("id", "integer"), ("v", "integer")]
    assert db.execute("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal").fetchone() == (0,)


def test_verify_names_a_corrupted_row(db_url: str, db: Conn, tmp_path: Path) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v integer NOT NULL)")
    db.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 50000) g")
    assert (
        zdm("--database-url", db_url, "apply", _write(tmp_path, "0001_widen", WIDEN)).exit_code == 0
    )
    db.execute("ALTER TABLE t DISABLE TRIGGER USER")
    db.execute("UPDATE t SET _zdm_v = -1 WHERE id IN (31337, 40000)")
    db.execute("ALTER TABLE t ENABLE TRIGGER USER")
    res = zdm("--database-url", db_url, "verify", "0001_widen", "--limit", "1")
    assert res.exit_code == 1
    assert res.stdout.strip() == (
        "0001_widen: rows whose old and new columns disagree: t: 2 rows, e.g. (id)=(31337)"
    )


def test_verify_accepts_values_the_new_version_wrote(db_url: str, db: Conn, tmp_path: Path) -> None:
    """up(down(x)) != x for odd x: such a row is consistent because old = down(new)."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v integer NOT NULL)")
    db.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 100) g")
    assert (
        zdm("--database-url", db_url, "apply", _write(tmp_path, "0001_widen", WIDEN)).exit_code == 0
    )
    with psycopg.connect(db_url, autocommit=True) as new_app:
        new_app.execute("SET search_path = public_0001_widen, public")
        new_app.execute("UPDATE t SET v = 7 WHERE id = 5")
    assert db.execute("SELECT v, _zdm_v FROM t WHERE id = 5").fetchone() == (3, 7)
    res = zdm("--database-url", db_url, "verify", "0001_widen")
    assert res.exit_code == 0, res.stdout


@pytest.mark.slow
def test_injected_slowdown_shrinks_batches_to_the_target(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v integer NOT NULL)")
    db.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 1500) g")
    db.execute(
        "CREATE FUNCTION slow_double(x integer) RETURNS bigint LANGUAGE sql VOLATILE "
        "AS $$ SELECT x::bigint * 2 FROM pg_sleep(0.002) $$"
    )
    slow = WIDEN.replace("up: v::bigint * 2", "up: slow_double(v)")
    path = _write(tmp_path, "0001_widen", slow)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.zdmigrate]\nmin_batch_size = 5\nbatch_size = 400\ntarget_batch_ms = 60\n"
    )
    res = zdm(
        "--config",
        str(tmp_path / "pyproject.toml"),
        "--database-url",
        db_url,
        "apply",
        "--no-verify",
        path,
    )
    assert res.exit_code == 0, res.stderr
    # ~2 ms a row and a 60 ms target: about 30 rows a batch, down from 400.
    rows, status, batch = _checkpoint(db, "0001_widen")
    assert (rows, status) == (1500, "done")
    # (a batch of the walk by blocks ends on a tuple position, so it lands a little wider)
    assert 10 <= batch <= 90, batch


def _apply_process(db_url: str, path: str) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        "-m",
        "zdmigrate",
        "--database-url",
        db_url,
        "apply",
        "--batch-size",
        "2000",
        "--target-batch-ms",
        "30",
        path,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_pause_stops_within_a_batch_and_resume_finishes(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v integer NOT NULL)")
    db.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 400000) g")
    db.execute("ANALYZE t")
    proc = _apply_process(db_url, _write(tmp_path, "0001_widen", WIDEN))
    try:

        def started() -> bool:
            row = db.execute(
                "SELECT to_regclass('zdmigrate.backfill_checkpoints') IS NOT NULL"
            ).fetchone()
            return (
                bool(row and row[0])
                and db.execute(
                    "SELECT 1 FROM zdmigrate.backfill_checkpoints WHERE rows_done > 0"
                ).fetchone()
                is not None
            )

        _wait_for(started)
        assert zdm("--database-url", db_url, "pause", "0001_widen").exit_code == 0
        time.sleep(1.0)  # the batch under way commits; no new one starts
        paused_at = _checkpoint(db, "0001_widen")[0]
        time.sleep(1.5)
        assert _checkpoint(db, "0001_widen")[0] == paused_at
        assert paused_at < 400000
        sessions = db.execute(
            "SELECT a.state, count(l.*) FILTER (WHERE l.relation = 't'::regclass) "
            "FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid "
            "WHERE a.application_name LIKE 'zdmigrate%%' AND a.datname = current_database() "
            "GROUP BY a.pid, a.state"
        ).fetchall()
        assert sessions and all(state == "idle" and locks == 0 for state, locks in sessions)
        status = json.loads(zdm("--database-url", db_url, "status", "--format", "json").stdout)
        assert status[0]["paused"] is True
        assert status[0]["rows_done"] == paused_at
        assert zdm("--database-url", db_url, "resume", "0001_widen").exit_code == 0
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    finally:
        proc.kill()
    rows, status_, _ = _checkpoint(db, "0001_widen")
    assert (rows, status_) == (400000, "done")  # nothing redone, nothing skipped
    assert db.execute("SELECT count(*) FROM t WHERE _zdm_v IS DISTINCT FROM v * 2").fetchone() == (
        0,
    )


def test_percent_signs_in_names_and_expressions(db_url: str, db: Conn, tmp_path: Path) -> None:
    """A '%' in a table, column or expression is SQL, never a query placeholder."""
    db.execute('CREATE TABLE "stock%" (id int PRIMARY KEY, "pct%" integer NOT NULL)')
    db.execute('INSERT INTO "stock%" SELECT g, g % 100 FROM generate_series(1, 2000) g')
    path = _write(
        tmp_path,
        "0001_pct",
        "- alter_column:\n"
        "    table: stock%\n"
        "    column: pct%\n"
        "    type: bigint\n"
        "    up: '\"pct%\"::bigint % 1000'\n"
        "    down: '\"pct%\"::integer'\n",
    )
    res = zdm("--database-url", db_url, "apply", "--batch-size", "300", path)
    assert res.exit_code == 0, res.stderr
    assert zdm("--database-url", db_url, "verify", "0001_pct").exit_code == 0
    assert zdm("--database-url", db_url, "complete", "0001_pct").exit_code == 0
    row = db.execute(
        'SELECT data_type, (SELECT sum("pct%") FROM "stock%") FROM information_schema.columns '
        "WHERE table_name = 'stock%' AND column_name = 'pct%'"
    ).fetchone()
    assert row == ("bigint", sum(g % 100 for g in range(1, 2001)))
