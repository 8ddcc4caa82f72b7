"""A plan made from a snapshot file or a schema dump is the plan made against the database.

A database whose tables predate zdmigrate (every real one): the tables live in
a schema that is not `public`, one is partitioned, and the plan is made three
ways: live, from `zdmigrate snapshot`, and from `pg_dump --schema-only`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from tests.cli_helpers import zdm
from tests.model.test_dump_server import dump
from tests.pgserver import Server

SCHEMA = """
CREATE SCHEMA billing;
CREATE TABLE billing.accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner text NOT NULL,
    balance integer NOT NULL DEFAULT 0 CHECK (balance >= -1000),
    code varchar(20) UNIQUE
);
CREATE INDEX accounts_owner_idx ON billing.accounts (owner) WHERE balance > 0;
CREATE TABLE billing.events (
    id bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    account_id bigint REFERENCES billing.accounts (id) ON DELETE CASCADE,
    amount integer,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE billing.events_2026 PARTITION OF billing.events
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE public.unrelated (id int PRIMARY KEY);
"""
MIGRATION = """
operations:
  - alter_column: {table: accounts, column: balance, type: bigint}
  - rename_column: {table: accounts, from: owner, to: owner_name}
  - add_column: {table: accounts, column: {name: note, type: text, check: "length(note) < 200"}}
"""
NO_DB = {"ZDMIGRATE_DATABASE_URL": "", "DATABASE_URL": ""}


def _steps(out: str | dict[str, Any]) -> dict[str, list[str]]:
    phases = (json.loads(out) if isinstance(out, str) else out)["phases"]
    return {
        name: [s["sql"] for s in phases[name]]
        for name in ("check", "expand", "validate", "contract", "rollback")
    } | {"backfill": [st["sql"] for b in phases["backfill"] for st in b["statements"]]}


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.zdmigrate]\nschema = "billing"\n')
    return path


def _plan(config: Path, migration: Path, schema_file: Path) -> dict[str, Any]:
    res = zdm(
        "--config",
        str(config),
        "plan",
        "-f",
        "json",
        "--schema-file",
        str(schema_file),
        str(migration),
        env=NO_DB,
    )
    assert res.exit_code == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def test_snapshot_and_dump_plan_as_the_database_does(
    db_url: str, pg_server: Server, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    config = _config(tmp_path)
    migration = tmp_path / "0001_accounts.yaml"
    migration.write_text(MIGRATION)
    live = zdm(
        "--database-url", db_url, "--config", str(config), "plan", "-f", "json", str(migration)
    )
    assert live.exit_code == 0, live.stderr

    snap = tmp_path / "schema.json"
    made = zdm("--database-url", db_url, "--config", str(config), "snapshot", "-o", str(snap))
    assert made.exit_code == 0, made.stderr
    assert "schema billing, 3 tables" in made.stdout
    offline = _plan(config, migration, snap)
    assert offline["schema_from"] == "snapshot"
    assert _steps(offline) == _steps(live.stdout)

    (tmp_path / "schema.sql").write_text(dump(pg_server, db_url))
    from_dump = _plan(config, migration, tmp_path / "schema.sql")
    assert from_dump["schema_from"] == "dump"
    assert _steps(from_dump) == _steps(live.stdout)


def test_snapshot_of_a_missing_schema_is_one_line(db_url: str, tmp_path: Path) -> None:
    res = zdm(
        "--database-url", db_url, "snapshot", "-o", str(tmp_path / "s.json"), "--schema", "nope"
    )
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "error: snapshot: schema 'nope' does not exist in the database (hint: give --schema "
        "with an existing schema (default: the configured one))"
    ]
    assert not (tmp_path / "s.json").exists()


def test_a_missing_schema_file_is_one_line(tmp_path: Path) -> None:
    migration = tmp_path / "0001_x.yaml"
    migration.write_text(MIGRATION)
    res = zdm("plan", "--schema-file", str(tmp_path / "nope.sql"), str(migration), env=NO_DB)
    assert res.exit_code == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert "nope.sql" in res.stderr
