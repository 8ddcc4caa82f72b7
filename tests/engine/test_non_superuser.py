"""The plan is what runs when zdmigrate is what production has: a migration role that
owns the tables and is not a superuser, tables in a schema other than public."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.cli_helpers import zdm
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


@pytest.fixture
def migrator_url(db_url: str, pg_server: Server) -> Iterator[str]:
    """``db_url`` for a new LOGIN role that is not a superuser and owns the database."""
    role = f"zdm_migrator_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(role)))
        name = admin.info.dbname
        admin.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )
    try:
        yield psycopg.conninfo.make_conninfo(db_url, user=role)
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


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
