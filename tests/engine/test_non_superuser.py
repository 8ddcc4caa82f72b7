"""The plan is what runs when zdmigrate is what production has: a migration role that
owns the tables and is not a superuser, tables in a schema other than public."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.cli_helpers import zdm
from tests.conftest import drop_login_roles
from tests.conftest import login_role as _role
from tests.pgserver import Server

pytestmark = pytest.mark.slow

CREATE = """
- create_table:
    table: accounts
    columns:
      - {name: id, type: bigint, primary_key: true}
      - {name: balance, type: integer, nullable: false, check: "balance > -100"}
"""
CHANGE = """
- alter_column: {table: accounts, column: balance, type: bigint}
- create_index: {name: accounts_balance_idx, table: accounts, columns: [balance]}
"""


def test_a_non_superuser_owner_runs_the_plan_it_was_shown(
    migrator_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False,)
        conn.execute("CREATE SCHEMA ledger")
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.zdmigrate]\nschema = "ledger"\n')
    first, second = tmp_path / "0001_accounts.yaml", tmp_path / "0002_wide.yaml"
    first.write_text(CREATE)
    second.write_text(CHANGE)
    base = ("--database-url", migrator_url, "--config", str(config))
    for f in (first, second):
        shown = zdm(*base, "plan", "-f", "json", str(f))
        assert shown.exit_code == 0, shown.stderr
        phases = json.loads(shown.stdout)["phases"]
        log = tmp_path / f"{f.stem}.log"
        for args in (("apply", str(f)), ("complete", f.stem)):
            res = zdm(*base, *args, env={"ZDMIGRATE_SQL_LOG": str(log)})
            assert res.exit_code == 0, res.stderr
        sent = {json.loads(line)["sql"] for line in log.read_text().splitlines()}
        for phase in ("expand", "validate", "contract"):
            for step in phases[phase]:
                assert step["sql"] in sent, (f.name, step["key"])
    with psycopg.connect(migrator_url) as conn:
        cols = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'ledger' AND table_name = 'accounts' ORDER BY ordinal_position"
        ).fetchall()
        checks = conn.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'ledger.accounts'::regclass "
            "AND contype = 'c' ORDER BY 1"
        ).fetchall()
    assert cols == [("id", "bigint"), ("balance", "bigint")]
    assert checks == [("accounts_balance_check",)]


def test_an_app_role_session_the_migrator_cannot_see_blocks_the_gate(
    migrator_url: str, pg_server: Server, tmp_path: Path
) -> None:
    """The old app connects as its own role: without pg_read_all_stats the migration role
    cannot see when its sessions started, so the gate says so instead of 'clear'."""
    app = f"zdm_app_{uuid.uuid4().hex[:8]}"
    migrator = psycopg.conninfo.conninfo_to_dict(migrator_url)["user"]
    first, second = tmp_path / "0001_accounts.yaml", tmp_path / "0002_wide.yaml"
    first.write_text(CREATE)
    second.write_text(CHANGE)
    base = ("--database-url", migrator_url)
    assert zdm(*base, "apply", str(first)).exit_code == 0
    assert zdm(*base, "complete", "0001_accounts").exit_code == 0
    _role(pg_server.admin_url, app)
    try:
        with psycopg.connect(migrator_url, autocommit=True) as conn:
            conn.execute(sql.SQL("GRANT SELECT ON accounts TO {}").format(sql.Identifier(app)))
        app_url = psycopg.conninfo.make_conninfo(migrator_url, user=app)
        with psycopg.connect(app_url, autocommit=True, application_name="ledger-v1") as old:
            old.execute("SELECT balance FROM accounts")
            assert zdm(*base, "apply", str(second)).exit_code == 0
            res = zdm(*base, "gate", "0002_wide", "-f", "json")
            assert res.exit_code == 1, res.stderr
            sessions = _source(json.loads(res.stdout), "sessions")
            assert sessions["verdict"] == "unavailable"
            assert "GRANT pg_read_all_stats" in sessions["reason"]
            with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(migrator))
                )
            res = zdm(*base, "gate", "0002_wide", "-f", "json")
            assert res.exit_code == 1
            (found,) = _source(json.loads(res.stdout), "sessions")["evidence"]
            assert (found["user"], found["application_name"]) == (app, "ledger-v1")
        _wait_gone(migrator_url, "ledger-v1")
        assert zdm(*base, "complete", "0002_wide").exit_code == 0
    finally:
        database = psycopg.conninfo.conninfo_to_dict(migrator_url)["dbname"]
        drop_login_roles(pg_server.admin_url, str(database), app)


def _source(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["sources"] if s["source"] == name)


def _wait_gone(url: str, app: str) -> None:
    deadline = time.monotonic() + 10
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", (app,)
        ).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.05)
