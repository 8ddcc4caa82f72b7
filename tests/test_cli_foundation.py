"""The commands that need no engine: --version, validate, schema, init, status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from tests.cli_helpers import zdm
from zdmigrate import __version__
from zdmigrate.engine.state import STATE_VERSION

ROOT = Path(__file__).parents[1]
EXAMPLES = sorted(str(p) for p in (ROOT / "migrations_examples").glob("*.*"))
NO_ENV = {"ZDMIGRATE_DATABASE_URL": "", "DATABASE_URL": ""}


def test_version() -> None:
    res = zdm("--version")
    assert res.exit_code == 0
    assert res.stdout.strip() == f"zdmigrate {__version__}"


def test_validate_accepts_every_example() -> None:
    res = zdm("validate", *EXAMPLES)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.count(": ok (") == len(EXAMPLES)


def test_validate_json_lists_operations() -> None:
    res = zdm("validate", "--format", "json", EXAMPLES[2])
    data = json.loads(res.stdout)
    assert data[0]["name"] == "0003_rename_users_email"
    assert data[0]["operations"] == [
        {"op": "rename_column", "table": "users", "from": "email", "to": "email_address"}
    ]


def test_validate_rejects_a_bad_file_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "0009_bad.yaml"
    bad.write_text("- drop_column:\n    table: users\n    colum: x\n")
    res = zdm("validate", EXAMPLES[0], str(bad))
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert lines == [
        f"error: {bad}:3: operation 1 (drop_column), field 'colum': unknown field "
        "(hint: accepted fields: table, column, down)"
    ]


def test_schema_matches_the_checked_in_copy() -> None:
    res = zdm("schema")
    assert res.exit_code == 0
    assert json.loads(res.stdout) == json.loads((ROOT / "docs/migration.schema.json").read_text())


def _state_tables(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'zdmigrate' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def test_init_twice_leaves_one_state_schema(db_url: str, db: psycopg.Connection[Any]) -> None:
    first = zdm("--database-url", db_url, "init", "--format", "json")
    second = zdm("--database-url", db_url, "init")
    assert first.exit_code == 0 and second.exit_code == 0
    assert json.loads(first.stdout) == {"state_version_before": 0, "state_version": STATE_VERSION}
    assert second.stdout.strip() == f"state schema is up to date (version {STATE_VERSION})"
    assert _state_tables(db) == [
        "audit_log",
        "backfill_checkpoints",
        "gate_baselines",
        "gate_decisions",
        "gate_snapshots",
        "meta",
        "migration_schemas",
        "migrations",
        "steps_done",
    ]


def test_init_in_two_processes_at_once(db_url: str, db: psycopg.Connection[Any]) -> None:
    cmd = [sys.executable, "-m", "zdmigrate", "--database-url", db_url, "init"]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    assert db.execute("SELECT value FROM zdmigrate.meta").fetchall() == [(str(STATE_VERSION),)]
    assert len(_state_tables(db)) == 9


def test_status_json_is_empty_on_a_fresh_database(db_url: str) -> None:
    res = zdm("--database-url", db_url, "status", "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout) == []
    text = zdm("--database-url", db_url, "status")
    assert text.stdout.strip() == "no migrations yet"


def test_database_url_from_environment(db_url: str) -> None:
    res = zdm("status", "--format", "json", env={"ZDMIGRATE_DATABASE_URL": db_url})
    assert res.exit_code == 0, res.stderr
    res = zdm(
        "status", "--format", "json", env={"ZDMIGRATE_DATABASE_URL": "", "DATABASE_URL": db_url}
    )
    assert res.exit_code == 0, res.stderr


def test_missing_url_is_one_clear_line(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    res = zdm("status", env=NO_ENV)
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "error: no database URL given (hint: pass --database-url, or set "
        "ZDMIGRATE_DATABASE_URL or DATABASE_URL)"
    )


def test_password_never_printed() -> None:
    url = "postgresql://app:hunter2@127.0.0.1:1/app"
    res = zdm("--database-url", url, "status", "--format", "json")
    assert res.exit_code == 2
    assert "hunter2" not in res.stderr + res.stdout
    assert "app:***@127.0.0.1:1/app" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_traceback_flag_shows_the_python_traceback() -> None:
    res = zdm("--traceback", "--database-url", "postgresql://a:pw@127.0.0.1:1/x", "status")
    assert res.exit_code == 2
    assert "Traceback" in res.stderr
    assert "DatabaseError" in res.stderr


def test_pyproject_settings_and_bad_values(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.zdmigrate]\nlock_timeout_ms = -5\n")
    monkeypatch.chdir(tmp_path)
    res = zdm("--database-url", "postgresql://x@127.0.0.1:1/x", "status")
    assert res.exit_code == 2
    assert "setting 'lock_timeout_ms': Input should be greater than or equal to 1" in res.stderr


def test_validate_deep_plans_each_file_against_the_schema(tmp_path: Path) -> None:
    no_db = {"ZDMIGRATE_DATABASE_URL": "", "DATABASE_URL": ""}
    widen = tmp_path / "0002_wide.yaml"
    widen.write_text("- alter_column: {table: accounts, column: balance, type: bigint}\n")
    assert zdm("validate", str(widen), env=no_db).exit_code == 0
    missing = zdm("validate", "--deep", str(widen), env=no_db)
    assert missing.exit_code == 2
    assert "table 'accounts' does not exist in schema 'public'" in missing.stderr
    dump = tmp_path / "schema.sql"
    dump.write_text(
        "CREATE TABLE public.accounts (id bigint NOT NULL, balance integer);\n"
        "ALTER TABLE ONLY public.accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY (id);\n"
    )
    ok = zdm("validate", "--deep", "--schema-file", str(dump), str(widen), env=no_db)
    assert ok.exit_code == 0, ok.stderr
    rename = tmp_path / "0003_rename.yaml"
    rename.write_text("- rename_column: {table: accounts, from: balance, to: amount}\n")
    again = tmp_path / "0004_again.yaml"
    again.write_text("- alter_column: {table: accounts, column: balance, type: numeric}\n")
    later = zdm(
        "validate", "--deep", "--schema-file", str(dump), str(rename), str(again), env=no_db
    )
    assert later.exit_code == 2
    assert "0004_again" in later.stderr and "column 'balance' does not exist" in later.stderr
