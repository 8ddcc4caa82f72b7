"""The contract gate on a real server: what blocks `complete`, and what clears it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cli_helpers import zdm

CREATE = (
    "- create_table: {table: t, columns: [{name: id, type: bigint, primary_key: true}, "
    "{name: v, type: integer}, {name: note, type: text}]}\n"
)
WIDEN = (
    "- alter_column: {table: t, column: v, type: bigint}\n- drop_column: {table: t, column: note}\n"
)


def _migrate(db_url: str, tmp_path: Path) -> None:
    first, second = tmp_path / "0001_t.yaml", tmp_path / "0002_wide.yaml"
    first.write_text(CREATE)
    second.write_text(WIDEN)
    assert zdm("--database-url", db_url, "apply", str(first)).exit_code == 0
    assert zdm("--database-url", db_url, "complete", "0001_t").exit_code == 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO t SELECT g, g, 'n' FROM generate_series(1, 100) g")
    assert zdm("--database-url", db_url, "apply", str(second)).exit_code == 0


def _gate(db_url: str, *args: str) -> tuple[int, dict[str, Any]]:
    res = zdm("--database-url", db_url, "gate", "0002_wide", "--format", "json", *args)
    assert res.exit_code in (0, 1), res.stderr
    return res.exit_code, json.loads(res.stdout)


def _source(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["sources"] if s["source"] == name)


def _columns(db_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 't' ORDER BY ordinal_position"
        ).fetchall()


def test_the_gate_is_clear_when_nothing_old_is_left(db_url: str, tmp_path: Path) -> None:
    _migrate(db_url, tmp_path)
    code, report = _gate(db_url)
    assert code == 0 and report["verdict"] == "clear"
    verdicts = {s["source"]: s["verdict"] for s in report["sources"]}
    # this database has no pg_stat_statements; the harness allows that source to be missing
    assert verdicts == {
        "backfill": "clear",
        "rows": "clear",
        "sessions": "clear",
        "versions": "clear",
        "statements": "unavailable",
        "writes": "clear",
    }
    assert zdm("--database-url", db_url, "complete", "0002_wide").exit_code == 0


def test_an_old_session_blocks_until_it_is_gone(db_url: str, tmp_path: Path) -> None:
    old = psycopg.connect(db_url, autocommit=True, application_name="billing-v1")
    try:
        _migrate(db_url, tmp_path)
        old.execute("SELECT note FROM t WHERE id = 1")
        code, report = _gate(db_url)
        assert code == 1 and report["verdict"] == "blocked"
        (found,) = _source(report, "sessions")["evidence"]
        assert found["application_name"] == "billing-v1"
        assert found["pid"] == old.info.backend_pid
        assert "before the new version" in found["summary"]
        res = zdm("--database-url", db_url, "complete", "0002_wide")
        assert res.exit_code == 1
        assert "billing-v1" in res.stderr and "cannot complete '0002_wide'" in res.stderr
        assert "(hint: deploy the new version everywhere, or use --force)" in res.stderr
        assert ("note", "text") in _columns(db_url)  # nothing was contracted
    finally:
        old.close()
    _wait_gone(db_url, "billing-v1")
    assert _gate(db_url)[0] == 0
    assert zdm("--database-url", db_url, "complete", "0002_wide").exit_code == 0
    assert _columns(db_url) == [("id", "bigint"), ("v", "bigint")]


def _wait_gone(db_url: str, app: str) -> None:
    deadline = time.monotonic() + 10
    with psycopg.connect(db_url, autocommit=True) as conn:
        while conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", (app,)
        ).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_a_row_whose_columns_disagree_blocks_and_complete_changes_nothing(
    db_url: str, tmp_path: Path
) -> None:
    _migrate(db_url, tmp_path)
    with psycopg.connect(db_url, autocommit=True) as conn:  # a write the trigger never saw
        conn.execute("SET session_replication_role = replica")  # no trigger fires
        conn.execute("UPDATE t SET v = 7000 WHERE id = 7")
    code, report = _gate(db_url)
    assert code == 1
    (found,) = _source(report, "rows")["evidence"]
    assert found["table"] == "t" and found["rows"] == 1 and found["keys"] == ["(id)=(7)"]
    before = _columns(db_url)
    res = zdm("--database-url", db_url, "complete", "0002_wide")
    assert res.exit_code == 1 and "rows: 1 rows of t disagree" in res.stderr
    assert _columns(db_url) == before
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT v FROM t WHERE id = 7").fetchone() == (7000,)


def test_complete_force_contracts_and_records_the_override(db_url: str, tmp_path: Path) -> None:
    old = psycopg.connect(db_url, autocommit=True, application_name="billing-v1")
    try:
        _migrate(db_url, tmp_path)
        res = zdm("--database-url", db_url, "complete", "0002_wide", "--force")
        assert res.exit_code == 0, res.stderr
        assert "contracting anyway (--force)" in res.stderr
    finally:
        old.close()
    assert _columns(db_url) == [("id", "bigint"), ("v", "bigint")]
    with psycopg.connect(db_url) as conn:
        decision, forced, report = conn.execute(
            "SELECT decision, forced, report FROM zdmigrate.gate_decisions "
            "WHERE migration = '0002_wide' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        audit = conn.execute(
            "SELECT actor, detail FROM zdmigrate.audit_log WHERE migration = '0002_wide' "
            "AND step = 'gate' AND status = 'forced'"
        ).fetchone()
    assert (decision, forced) == ("blocked", True)
    assert report["forced_by"]["os_user"]
    assert _source(report, "sessions")["evidence"][0]["application_name"] == "billing-v1"
    assert audit is not None and audit[0] and audit[1]["os_user"]


def test_the_gate_of_a_migration_not_applied_is_one_line(db_url: str) -> None:
    res = zdm("--database-url", db_url, "gate", "0009_nope")
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "error: no migration named '0009_nope' (hint: zdmigrate status lists migrations)"
    ]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_gate_report_names_every_source(db_url: str, tmp_path: Path, fmt: str) -> None:
    _migrate(db_url, tmp_path)
    res = zdm("--database-url", db_url, "gate", "0002_wide", "--format", fmt)
    assert res.exit_code == 0, res.stderr
    if fmt == "json":
        assert json.loads(res.stdout)["migration"] == "0002_wide"
    else:
        assert res.stdout.splitlines()[:4] == [
            "0002_wide: gate clear",
            "  backfill: clear",
            "  rows: clear",
            "  sessions: clear",
        ]


def test_status_shows_the_last_gate_verdict(db_url: str, tmp_path: Path) -> None:
    old = psycopg.connect(db_url, autocommit=True, application_name="billing-v1")
    try:
        _migrate(db_url, tmp_path)
        assert zdm("--database-url", db_url, "complete", "0002_wide").exit_code == 1
    finally:
        old.close()
    rows = json.loads(zdm("--database-url", db_url, "status", "--format", "json").stdout)
    assert {r["name"]: r["gate"] for r in rows}["0002_wide"] == "blocked"
    text = zdm("--database-url", db_url, "status").stdout
    assert "blocked" in text
