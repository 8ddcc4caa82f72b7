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


RENAME = "- rename_column: {table: accounts, from: balance, to: amount}\n"


def _shape(url: str) -> list[tuple[Any, ...]]:
    """The schemas of the database and the columns of ledger.accounts."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT nspname, NULL FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' "
            "AND nspname <> 'information_schema' UNION ALL "
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'ledger' ORDER BY 1, 2"
        ).fetchall()


def test_a_migration_role_without_create_on_the_database_is_told_what_to_grant(
    db_url: str, pg_server: Server, tmp_path: Path
) -> None:
    """The role owns its schema and tables but not the database: the first apply names
    the grant it lacks and changes nothing; once the state schema exists, rollback and
    verify need no CREATE on the database, and apply names it again at its version schema."""
    owner = f"zdm_owner_{uuid.uuid4().hex[:8]}"
    database = str(psycopg.conninfo.conninfo_to_dict(db_url)["dbname"])
    _role(pg_server.admin_url, owner)
    try:
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE SCHEMA ledger AUTHORIZATION {}").format(sql.Identifier(owner))
            )
            admin.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(owner)))
            admin.execute("CREATE TABLE ledger.accounts (id bigint PRIMARY KEY, balance int)")
            admin.execute("INSERT INTO ledger.accounts VALUES (1, 10)")
        url = psycopg.conninfo.make_conninfo(db_url, user=owner)
        (tmp_path / "pyproject.toml").write_text('[tool.zdmigrate]\nschema = "ledger"\n')
        path = tmp_path / "0001_amount.yaml"
        path.write_text(RENAME)
        base = ("--database-url", url, "--config", str(tmp_path / "pyproject.toml"))
        before = _shape(db_url)
        grant = f'GRANT CREATE ON DATABASE "{database}" TO "{owner}"'

        res = zdm(*base, "apply", str(path))
        assert res.exit_code == 2, res.stdout
        (line,) = res.stderr.strip().splitlines()
        assert line.startswith(
            "error: cannot create zdmigrate's state schema (zdmigrate): permission denied "
            f"for database {database} (hint: {grant} "
        ), line
        assert _shape(db_url) == before

        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute(grant)
        assert zdm(*base, "apply", str(path)).exit_code == 0
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute(f'REVOKE CREATE ON DATABASE "{database}" FROM "{owner}"')
        for args in (("verify", "0001_amount"), ("rollback", "0001_amount")):
            res = zdm(*base, *args)
            assert res.exit_code == 0, (args, res.stderr)
        res = zdm(*base, "apply", str(path))
        assert res.exit_code == 2, res.stdout
        line = res.stderr.strip().splitlines()[-1]
        assert line.startswith("error: 0001_amount: create version schema ledger_0001_amount")
        assert f"permission denied for database {database}" in line
        assert f"(hint: grant CREATE on database {database} to the migration role" in line
        assert [r for r in _shape(db_url) if r[0] != "zdmigrate"] == before
    finally:
        drop_login_roles(pg_server.admin_url, database, owner)
