"""Both versions through a real PgBouncer, in session and in transaction pooling.

PgBouncer does not pass the startup ``options`` on (1.18 refuses the
connection), so the new version selects its schema with SQL: ``SET
search_path`` once per connection in session pooling, ``SET LOCAL
search_path`` in each transaction in transaction pooling. With one server
connection per pool, the old and the new version's transactions take turns on
the same server session: each write must be attributed to the version that
made it (the old version's are counted by the gate's ``writes`` counter).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.cli_helpers import Project
from tests.conftest import drop_login_roles, login_role
from tests.pgbouncer import pgbouncer, through
from tests.pgserver import Server

CHANGE = """
- rename_column: {table: users, from: email, to: email_address}
- alter_column: {table: users, column: n, type: bigint}
"""
VSCHEMA = "shop_0002_users"
NEW = "new-app version=0002_users"


@pytest.fixture
def app_url(migrator_url: str, pg_server: Server, tmp_path: Path) -> Iterator[str]:
    app = f"zdm_app_{uuid.uuid4().hex[:8]}"
    login_role(pg_server.admin_url, app)
    (tmp_path / "pyproject.toml").write_text('[tool.zdmigrate]\nschema = "shop"\n')
    (tmp_path / "0002_users.yaml").write_text(CHANGE)
    role = sql.Identifier(app)
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA shop")
        conn.execute("CREATE TABLE shop.users (id int PRIMARY KEY, email text, n int)")
        conn.execute("INSERT INTO shop.users SELECT g, 'u' || g, g FROM generate_series(1, 5) g")
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA shop TO {}").format(role))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON shop.users TO {}").format(role))
    res = _zdm(migrator_url, tmp_path, "apply", str(tmp_path / "0002_users.yaml"))
    assert res.exit_code == 0, res.stderr
    try:
        yield psycopg.conninfo.make_conninfo(migrator_url, user=app)
    finally:
        database = psycopg.conninfo.conninfo_to_dict(migrator_url)["dbname"]
        drop_login_roles(pg_server.admin_url, str(database), app)


def _zdm(url: str, folder: Path, *args: str) -> Any:
    return Project(url, folder).zdm(*args)


def _old_writes(migrator_url: str) -> int:
    with psycopg.connect(migrator_url) as conn:
        row = conn.execute("SELECT last_value, is_called FROM shop._zdm_writes_0002_users")
        last, called = row.fetchone() or (0, False)
    return int(last) if called else 0


@pytest.mark.parametrize("mode", ["session", "transaction"])
def test_each_version_is_told_apart_through_pgbouncer(
    mode: str, migrator_url: str, app_url: str, pg_server: Server, tmp_path: Path
) -> None:
    app = str(psycopg.conninfo.conninfo_to_dict(app_url)["user"])
    path = f"{VSCHEMA}, shop"
    with pgbouncer(pg_server.admin_url, mode, [app]) as port:
        with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
            through(app_url, port, options=f"-c search_path={VSCHEMA},shop")
        old = through(app_url, port, application_name="old-app")
        new = through(app_url, port, application_name=NEW)
        if mode == "session":
            new.execute(f"SET search_path TO {path}")

        def new_write(statement: str) -> None:
            if mode == "session":
                new.execute(statement)
                return
            with new.transaction():
                new.execute(f"SET LOCAL search_path TO {path}")
                new.execute(statement)

        new_write("UPDATE users SET n = 8, email_address = 'new@x' WHERE id = 2")
        old.execute("UPDATE shop.users SET n = 7 WHERE id = 1")  # the same server session
        new_write("UPDATE users SET n = 80 WHERE id = 3")
        old.execute("UPDATE shop.users SET email = 'old@x' WHERE id = 4")
        with new.transaction():
            if mode == "transaction":
                new.execute(f"SET LOCAL search_path TO {path}")
            row = new.execute("SELECT email_address, n FROM users WHERE id = 4").fetchone()
        assert row == ("old@x", 4)
        old.close()
        new.close()
    assert _old_writes(migrator_url) == 2
    verify = _zdm(migrator_url, tmp_path, "verify", "0002_users", "--format", "json")
    assert verify.exit_code == 0, verify.stdout
    assert json.loads(verify.stdout)["ok"] is True
    done = _zdm(migrator_url, tmp_path, "complete", "0002_users")
    assert done.exit_code == 0, done.stderr
    with psycopg.connect(migrator_url) as conn:
        rows = conn.execute("SELECT id, email_address, n FROM shop.users ORDER BY id").fetchall()
    assert rows == [(1, "u1", 7), (2, "new@x", 8), (3, "u3", 80), (4, "old@x", 4), (5, "u5", 5)]


def test_a_role_per_version_selects_the_schema_in_statement_pooling(
    migrator_url: str, app_url: str, pg_server: Server, tmp_path: Path
) -> None:
    """Statement pooling allows no transaction to set anything: the new version logs in
    as a role of its own whose role-level search_path names the version schema (a DBA
    creates it); PgBouncer keeps a pool per role, so its server sessions start with it."""
    app = str(psycopg.conninfo.conninfo_to_dict(app_url)["user"])
    new_role = f"{app}_v2"
    database = str(psycopg.conninfo.conninfo_to_dict(migrator_url)["dbname"])
    login_role(
        pg_server.admin_url,
        new_role,
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(app), sql.Identifier(new_role)).as_string(),
        sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = {}, shop")
        .format(sql.Identifier(new_role), sql.Identifier(database), sql.Identifier(VSCHEMA))
        .as_string(),
    )
    try:
        with pgbouncer(pg_server.admin_url, "statement", [app, new_role]) as port:
            new_url = psycopg.conninfo.make_conninfo(app_url, user=new_role)
            with (
                through(new_url, port, application_name=NEW) as new,
                through(app_url, port, application_name="old-app") as old,
            ):
                new.execute("UPDATE users SET n = 8, email_address = 'new@x' WHERE id = 2")
                old.execute("UPDATE shop.users SET n = 7 WHERE id = 1")
                row = new.execute("SELECT email_address, n FROM users WHERE id = 1").fetchone()
                assert row == ("u1", 7)
        assert _old_writes(migrator_url) == 1
        done = _zdm(migrator_url, tmp_path, "complete", "0002_users")
        assert done.exit_code == 0, done.stderr
        with psycopg.connect(migrator_url) as conn:
            rows = conn.execute("SELECT id, email_address, n FROM shop.users WHERE id < 3")
            assert rows.fetchall() == [(1, "u1", 7), (2, "new@x", 8)]
    finally:
        drop_login_roles(pg_server.admin_url, database, new_role)
