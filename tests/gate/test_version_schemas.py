"""An older version schema is dropped only when no session uses it.

The second completed migration drops the first one's version schema: the
version its clients' search_path names. While such a client is connected
(it declares that version, or holds the schema's views in a transaction),
contract keeps the schema and says so; ``zdmigrate cleanup`` drops it once
nobody uses it. As production runs: a migrator that is not a superuser, an
app role of its own, tables in schema ``ledger``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.cli_helpers import Project
from tests.conftest import drop_login_roles, login_role
from tests.pgserver import Server

MIGRATIONS = {
    "0001_accounts": """
- create_table:
    table: accounts
    columns:
      - {name: id, type: bigint, primary_key: true}
      - {name: balance, type: integer}
""",
    "0002_wide": "- alter_column: {table: accounts, column: balance, type: bigint}\n",
    "0003_email": "- add_column: {table: accounts, column: {name: email, type: text}}\n",
}
OLD_VERSION = "ledger_0002_wide"


@dataclass
class Setup(Project):
    app_url: str = ""

    def app(self, application_name: str) -> psycopg.Connection[Any]:
        """A client of version 0002_wide: its search_path names that version's schema."""
        return psycopg.connect(
            self.app_url,
            autocommit=True,
            application_name=application_name,
            options=f"-c search_path={OLD_VERSION},ledger",
        )

    def schema_exists(self) -> bool:
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT to_regnamespace(%s)", (OLD_VERSION,)).fetchone()
        return row is not None and row[0] is not None


@pytest.fixture
def setup(migrator_url: str, pg_server: Server, tmp_path: Path) -> Iterator[Setup]:
    """0001 and 0002 completed (the app runs version 0002_wide), 0003 applied."""
    app = f"zdm_app_{uuid.uuid4().hex[:8]}"
    migrator = psycopg.conninfo.conninfo_to_dict(migrator_url)["user"]
    (tmp_path / "pyproject.toml").write_text('[tool.zdmigrate]\nschema = "ledger"\n')
    for name, text in MIGRATIONS.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    grant = sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(migrator))
    login_role(pg_server.admin_url, app, grant.as_string())
    s = Setup(migrator_url, tmp_path, psycopg.conninfo.make_conninfo(migrator_url, user=app))
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ledger")
    s.ok("apply", str(tmp_path / "0001_accounts.yaml"))
    s.ok("complete", "0001_accounts")
    s.ok("apply", str(tmp_path / "0002_wide.yaml"))
    role = sql.Identifier(app)
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute("INSERT INTO ledger.accounts SELECT g, g FROM generate_series(1, 20) g")
        for schema in ("ledger", OLD_VERSION):
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), role)
            )
            conn.execute(
                sql.SQL("GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA {} TO {}").format(
                    sql.Identifier(schema), role
                )
            )
    s.ok("complete", "0002_wide")
    s.ok("apply", str(tmp_path / "0003_email.yaml"))
    try:
        yield s
    finally:
        drop_login_roles(pg_server.admin_url, _dbname(migrator_url), app)


def test_contract_keeps_an_older_version_a_client_declares_and_cleanup_drops_it(
    setup: Setup,
) -> None:
    with setup.app("billing version=0002_wide") as client:
        assert client.execute("SELECT balance FROM accounts WHERE id = 3").fetchone() == (3,)
        gate = setup.zdm("gate", "0003_email", "--format", "json")
        assert gate.exit_code == 0, gate.stdout
        versions = next(s for s in json.loads(gate.stdout)["sources"] if s["source"] == "versions")
        assert versions["verdict"] == "found"
        assert "contract keeps ledger_0002_wide" in versions["evidence"][0]["summary"]

        done = setup.ok("complete", "0003_email", "--format", "json")
        kept = json.loads(done.stdout)["kept"]
        assert [k["version_schema"] for k in kept] == [OLD_VERSION]
        assert "declares version 0002_wide" in kept[0]["evidence"][0]["summary"]
        # the old client goes on working
        assert client.execute("SELECT balance FROM accounts WHERE id = 3").fetchone() == (3,)
        assert setup.schema_exists()

        busy = setup.zdm("cleanup")
        assert busy.exit_code == 1
        assert "kept ledger_0002_wide (0002_wide)" in busy.stdout
        assert setup.schema_exists()

    dry = setup.ok("cleanup", "--dry-run", "--format", "json")
    assert [d["version_schema"] for d in json.loads(dry.stdout)["dropped"]] == [OLD_VERSION]
    assert setup.schema_exists()
    res = setup.ok("cleanup")
    assert "dropped ledger_0002_wide (0002_wide)" in res.stdout
    assert not setup.schema_exists()
    assert "no older version schema is left" in setup.ok("cleanup").stdout


def test_a_transaction_on_the_old_views_keeps_them_and_force_drops_them(setup: Setup) -> None:
    """A client that says nothing of its version but holds the views in a transaction
    keeps them; ``cleanup --force`` drops a schema in use and writes it to the audit log."""
    with setup.app("billing") as client:
        client.execute("BEGIN")
        client.execute("SELECT count(*) FROM accounts")
        res = setup.ok("complete", "0003_email")
        assert "kept ledger_0002_wide of 0002_wide" in res.stdout
        assert "views open in a transaction" in res.stdout
        assert setup.zdm("cleanup").exit_code == 1
        client.execute("ROLLBACK")
    with setup.app("billing version=0002_wide"):
        assert setup.zdm("cleanup").exit_code == 1
        forced = setup.zdm("cleanup", "--force", "--format", "json")
        assert forced.exit_code == 0, forced.stderr
    assert (
        "declares version 0002_wide"
        in json.loads(forced.stdout)["dropped"][0]["evidence"][0]["summary"]
    )
    assert not setup.schema_exists()
    with psycopg.connect(setup.url) as conn:
        audit = conn.execute(
            "SELECT migration, status, detail->'evidence'->0->>'application_name' "
            "FROM zdmigrate.audit_log WHERE command = 'cleanup' ORDER BY id"
        ).fetchall()
    assert audit == [
        ("0002_wide", "forced", "billing version=0002_wide"),
        ("0002_wide", "done", None),
    ]


def _dbname(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["dbname"]  # type: ignore[return-value]
