"""State rules: migrations in flight, the audit log, status, pause/resume bookkeeping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from tests.cli_helpers import zdm
from zdmigrate.engine.state import STATE_VERSION

Conn = psycopg.Connection[Any]


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return str(path)


def _tables(db: Conn) -> None:
    db.execute("CREATE TABLE a (id int PRIMARY KEY, x int)")
    db.execute("CREATE TABLE b (id int PRIMARY KEY, y int)")
    db.execute("INSERT INTO a SELECT g, g FROM generate_series(1, 100) g")
    db.execute("INSERT INTO b SELECT g, g FROM generate_series(1, 100) g")


def test_two_migrations_on_different_tables_may_be_in_flight(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    _tables(db)
    first = _file(tmp_path, "0001_a", "- rename_column: {table: a, from: x, to: x2}\n")
    second = _file(tmp_path, "0002_b", "- alter_column: {table: b, column: y, type: bigint}\n")
    assert zdm("--database-url", db_url, "apply", first).exit_code == 0
    assert zdm("--database-url", db_url, "apply", second).exit_code == 0
    status = json.loads(zdm("--database-url", db_url, "status", "--format", "json").stdout)
    assert [(s["name"], s["phase"], s["search_path"]) for s in status] == [
        ("0001_a", "expanded", "public_0001_a,public"),
        ("0002_b", "expanded", "public_0002_b,public"),
    ]


def test_a_second_migration_on_the_same_table_is_refused(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    _tables(db)
    first = _file(tmp_path, "0001_a", "- rename_column: {table: a, from: x, to: x2}\n")
    second = _file(tmp_path, "0002_a", "- alter_column: {table: a, column: x, type: bigint}\n")
    assert zdm("--database-url", db_url, "apply", first).exit_code == 0
    columns = db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'a' ORDER BY 1"
    ).fetchall()
    res = zdm("--database-url", db_url, "apply", second)
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        f"error: {second}: migration '0001_a' is still in flight on a (hint: complete or "
        "roll back '0001_a' first)"
    ]
    assert (
        db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'a' ORDER BY 1"
        ).fetchall()
        == columns
    )
    assert db.execute(
        "SELECT count(*) FROM zdmigrate.migrations WHERE name = '0002_a'"
    ).fetchone() == (0,)


def test_every_step_is_in_the_audit_log(db_url: str, db: Conn, tmp_path: Path) -> None:
    _tables(db)
    path = _file(tmp_path, "0001_b", "- alter_column: {table: b, column: y, type: bigint}\n")
    assert zdm("--database-url", db_url, "apply", path).exit_code == 0
    assert zdm("--database-url", db_url, "complete", "0001_b").exit_code == 0
    rows = db.execute(
        "SELECT command, step, status, attempts >= 1, sql <> '' FROM zdmigrate.audit_log "
        "WHERE migration = '0001_b' ORDER BY id"
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        ("apply", "expand:writes-counter"),
        ("apply", "expand:table:b"),
        ("apply", "expand:version-schema"),
        ("complete", "contract:table:b"),
        ("complete", "contract:writes-counter"),
    ]
    assert all(r[2] == "done" and r[3] and r[4] for r in rows)


def test_apply_again_after_success_does_nothing_new(db_url: str, db: Conn, tmp_path: Path) -> None:
    _tables(db)
    path = _file(tmp_path, "0001_b", "- alter_column: {table: b, column: y, type: bigint}\n")
    assert zdm("--database-url", db_url, "apply", path).exit_code == 0
    again = zdm("--database-url", db_url, "apply", "--format", "json", path)
    assert again.exit_code == 0
    data = json.loads(again.stdout)
    assert (data["already"], data["steps_run"], data["rows_backfilled"]) == ("expanded", 0, 0)


def test_complete_twice_and_rollback_after_complete_are_refused(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    _tables(db)
    path = _file(tmp_path, "0001_a", "- rename_column: {table: a, from: x, to: x2}\n")
    assert zdm("--database-url", db_url, "apply", path).exit_code == 0
    assert zdm("--database-url", db_url, "complete", "0001_a").exit_code == 0
    res = zdm("--database-url", db_url, "rollback", "0001_a")
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "error: cannot roll back '0001_a': it is completed "
        "(hint: zdmigrate status shows what each migration is doing)"
    )
    res = zdm("--database-url", db_url, "apply", path)
    assert res.exit_code == 0
    assert res.stdout.strip() == "0001_a: already completed"


def test_unknown_migration_name(db_url: str) -> None:
    res = zdm("--database-url", db_url, "complete", "nope")
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "error: no migration named 'nope' (hint: zdmigrate status lists migrations)"
    )


def test_upgrading_the_state_keeps_each_migrations_schema_and_version_schema(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    """State version 5 keeps a migration's schemas in a table of their own: an upgrade
    from 4 copies each migration's schema, version schema and tables into it, so a
    migration applied before the upgrade completes after it and drops its predecessor."""
    _tables(db)
    first = _file(tmp_path, "0001_wide", "- alter_column: {table: a, column: x, type: bigint}\n")
    assert zdm("--database-url", db_url, "apply", first).exit_code == 0
    assert zdm("--database-url", db_url, "complete", "0001_wide").exit_code == 0
    second = _file(tmp_path, "0002_y", "- alter_column: {table: a, column: x, type: numeric}\n")
    assert zdm("--database-url", db_url, "apply", second).exit_code == 0
    # back to state version 4, as a zdmigrate before multi-schema migrations left it
    db.execute("DROP TABLE zdmigrate.migration_schemas")
    db.execute("UPDATE zdmigrate.meta SET value = '4' WHERE key = 'state_version'")
    res = zdm("--database-url", db_url, "init", "--format", "json")
    assert json.loads(res.stdout) == {"state_version_before": 4, "state_version": STATE_VERSION}
    rows = db.execute(
        "SELECT migration, schema_name, version_schema, tables, version_schema_dropped "
        "FROM zdmigrate.migration_schemas ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("0001_wide", "public", "public_0001_wide", ["a"], False),
        ("0002_y", "public", "public_0002_y", ["a"], False),
    ]
    assert zdm("--database-url", db_url, "complete", "0002_y").exit_code == 0
    gone = db.execute("SELECT to_regnamespace('public_0001_wide') IS NULL").fetchone()
    assert gone == (True,)
