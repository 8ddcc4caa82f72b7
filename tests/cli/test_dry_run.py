"""``apply --dry-run``: the plan against the live schema and the checks that need no
change; exit 0 when apply would go ahead, 1 when a check says it would not; the
database is left exactly as it was (not even the state schema is created).

As production runs: the migration role owns the tables and is not a superuser (it has
pg_read_all_stats, as the gate wants), the tables live in schema billing, the app is
another role.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.catalog import snapshot
from tests.cli_helpers import zdm
from tests.conftest import drop_login_roles, login_role
from tests.pgserver import Server

Conn = psycopg.Connection[Any]
WIDEN = "- alter_column: {table: orders, column: amount, type: bigint}\n"
INDEX = "- create_index: {table: orders, name: orders_customer_idx, columns: [customer_id]}\n"


@dataclass
class Env:
    url: str  # the migration role's
    app_url: str
    folder: Path

    def write(self, name: str, text: str) -> str:
        path = self.folder / f"{name}.yaml"
        path.write_text(text)
        return str(path)

    def zdm(self, *args: str) -> Any:
        return zdm("--database-url", self.url, "--schema", "billing", *args)

    def dry_run(self, *args: str) -> tuple[int, dict[str, Any]]:
        res = self.zdm("apply", "--dry-run", "--format", "json", *args)
        assert res.exit_code in (0, 1), res.stderr
        return res.exit_code, json.loads(res.stdout)


@pytest.fixture
def env(migrator_url: str, pg_server: Server, tmp_path: Path) -> Iterator[Env]:
    app = f"zdm_app_{uuid.uuid4().hex[:8]}"
    migrator = psycopg.conninfo.conninfo_to_dict(migrator_url)["user"]
    login_role(pg_server.admin_url, app, f'GRANT pg_read_all_stats TO "{migrator}"')
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA billing")
        conn.execute(
            "CREATE TABLE billing.orders (id int PRIMARY KEY, amount int, customer_id int)"
        )
        conn.execute("INSERT INTO billing.orders SELECT g, g, g FROM generate_series(1, 5000) g")
        conn.execute("ANALYZE billing.orders")
        conn.execute("CREATE TABLE billing.other (id int PRIMARY KEY)")
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA billing TO {}").format(sql.Identifier(app)))
        conn.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA billing TO {}").format(
                sql.Identifier(app)
            )
        )
    try:
        yield Env(migrator_url, psycopg.conninfo.make_conninfo(migrator_url, user=app), tmp_path)
    finally:
        drop_login_roles(
            pg_server.admin_url, psycopg.conninfo.conninfo_to_dict(migrator_url)["dbname"], app
        )


def _state(conn: Conn) -> dict[str, Any]:
    """Every row of every table of the zdmigrate schema, as text; None without it."""
    if conn.execute("SELECT to_regnamespace('zdmigrate')").fetchone() == (None,):
        return {"zdmigrate": None}
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'zdmigrate' ORDER BY 1"
        ).fetchall()
    ]
    return {
        t: conn.execute(
            sql.SQL("SELECT t::text FROM zdmigrate.{} t ORDER BY 1").format(sql.Identifier(t))
        ).fetchall()
        for t in tables
    }


def _everything(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {
            "billing": snapshot(conn, "billing"),
            "public": snapshot(conn, "public"),
            "state": _state(conn),
            "rows": conn.execute("SELECT count(*), sum(amount) FROM billing.orders").fetchone(),
        }


def _checks(result: dict[str, Any], index: int = 0) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in result["migrations"][index]["checks"]}


def test_a_fresh_database_is_left_as_it_was(env: Env) -> None:
    path = env.write("0001_widen", WIDEN)
    before = _everything(env.url)
    res = env.zdm("apply", "--dry-run", path)
    assert res.exit_code == 0, res.stderr
    assert "== Expand (both versions keep working)" in res.stdout
    assert "Planned against the live database." in res.stdout
    assert "0001_widen: apply would go ahead" in res.stdout
    assert "ok     locks: no session holds a conflicting lock on the tables" in res.stdout
    assert "note   estimates: orders: ~5,000 rows" in res.stdout
    assert _everything(env.url) == before
    assert before["state"] == {"zdmigrate": None}


def test_an_applied_database_is_left_as_it_was(env: Env) -> None:
    first = env.write("0001_widen", WIDEN)
    assert env.zdm("apply", first).exit_code == 0
    second = env.write(
        "0002_index", INDEX.replace("orders,", "other,").replace("customer_id", "id")
    )
    before = _everything(env.url)
    code, data = env.dry_run(str(env.folder))
    assert code == 0
    assert [(m["name"], m["already"], m["go_ahead"]) for m in data["migrations"]] == [
        ("0001_widen", "expanded", True),
        ("0002_index", None, True),
    ]
    assert data["migrations"][1]["plan"]["live"] is True
    assert _everything(env.url) == before
    assert second


def test_a_session_holding_a_lock_too_long_says_no(env: Env) -> None:
    path = env.write("0001_widen", WIDEN)
    with psycopg.connect(env.app_url, application_name="billing-v1") as app:
        app.execute(
            "SELECT count(*) FROM billing.orders"
        )  # holds ACCESS SHARE, idle in transaction
        pid = app.info.backend_pid
        code, data = env.dry_run(path)  # its transaction is young: apply would retry
        assert code == 0
        assert _checks(data)["locks"]["verdict"] == "note"
        time.sleep(1.2)
        before = _everything(env.url)
        code, data = env.dry_run("--lock-retry-budget-s", "1", path)
        assert code == 1
        locks = _checks(data)["locks"]
        assert locks["verdict"] == "blocks"
        (holder,) = locks["evidence"]
        assert (holder["pid"], holder["application_name"], holder["mode"], holder["table"]) == (
            pid,
            "billing-v1",
            "AccessShareLock",
            "orders",
        )
        assert holder["state"] == "idle in transaction" and holder["transaction_s"] >= 1
        text = env.zdm("apply", "--dry-run", "--lock-retry-budget-s", "1", path)
        assert text.exit_code == 1
        assert "0001_widen: apply would not go ahead now (locks)" in text.stdout
        assert f"pid {pid}, application 'billing-v1'" in text.stdout
        assert _everything(env.url) == before
    code, data = env.dry_run("--lock-retry-budget-s", "1", path)
    assert code == 0 and _checks(data)["locks"]["verdict"] == "ok"


def test_an_old_transaction_blocks_a_concurrent_index_build(env: Env) -> None:
    index = env.write("0001_index", INDEX)
    widen = env.write("0001_widen", WIDEN)
    with psycopg.connect(env.app_url, application_name="report") as app:
        app.execute("SELECT count(*) FROM billing.other")  # another table, still a snapshot
        time.sleep(1.2)
        code, data = env.dry_run("--lock-retry-budget-s", "1", index)
        assert code == 1
        old = _checks(data)["long transactions"]
        assert old["verdict"] == "blocks" and old["evidence"][0]["application_name"] == "report"
        code, data = env.dry_run("--lock-retry-budget-s", "1", widen)
        assert code == 0 and "long transactions" not in _checks(data)


def test_another_migration_in_flight_on_the_table_says_no(env: Env) -> None:
    assert env.zdm("apply", env.write("0001_widen", WIDEN)).exit_code == 0
    code, data = env.dry_run(env.write("0002_index", INDEX))
    assert code == 1
    assert _checks(data)["in flight"]["summary"].startswith(
        "migration '0001_widen' is still in flight on orders"
    )


def test_a_file_changed_after_apply_says_no(env: Env) -> None:
    path = env.write("0001_widen", WIDEN)
    assert env.zdm("apply", path).exit_code == 0
    env.write("0001_widen", WIDEN.replace("bigint", "numeric"))
    code, data = env.dry_run(path)
    assert code == 1
    assert "changed after it was applied (phase expanded)" in _checks(data)["state"]["summary"]
    env.write("0001_widen", "# reformatted\n" + WIDEN)
    code, data = env.dry_run(path)
    assert code == 0 and data["migrations"][0]["already"] == "expanded"


def test_a_table_it_does_not_own_says_no(env: Env, pg_server: Server) -> None:
    with psycopg.connect(env.url, autocommit=True) as conn:
        dbname = conn.info.dbname
    admin = psycopg.conninfo.make_conninfo(pg_server.admin_url, dbname=dbname)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE TABLE billing.ledger (id int PRIMARY KEY, amount int)")
        conn.execute("GRANT SELECT ON billing.ledger TO PUBLIC")
    path = env.write("0001_ledger", WIDEN.replace("orders", "ledger"))
    code, data = env.dry_run(path)
    assert code == 1
    assert _checks(data)["privileges"]["summary"] == (
        "ledger: not owned by this role; run as the tables' owner"
    )


def test_bad_input_is_exit_2_and_changes_nothing(env: Env) -> None:
    path = env.write("0001_bad", WIDEN.replace("orders", "nope"))
    before = _everything(env.url)
    res = env.zdm("apply", "--dry-run", path)
    assert res.exit_code == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "nope" in res.stderr
    assert _everything(env.url) == before
