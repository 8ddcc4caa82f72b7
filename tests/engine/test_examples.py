"""Every file of ``migrations_examples/`` runs on a real server, as production runs it.

For each example: its setup SQL (``migrations_examples/setup/<name>.sql``) makes the
tables it assumes, as the migration role (not a superuser, owner of the database);
``plan`` and ``apply`` run; an old client (the app role, physical tables, old names)
and a new client (the app role, through the version schema) write and read each
other's rows; ``verify`` finds every row consistent; ``complete`` contracts; the data
both wrote is there in the final shape. Separately, ``apply`` then ``rollback``
leaves the catalog exactly as the setup made it.
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
from psycopg import errors, sql

from tests.catalog import diff
from tests.cli_helpers import Result, zdm
from tests.engine.conftest import (
    _APP_PRIVILEGES,
    Conn,
    _create_database,
    _drop_database,
    _empty,
    connect,
    public_snapshot,
)
from tests.pgserver import Server

ROOT = Path(__file__).parents[2]
# the examples, and a project of its own on a partitioned table
EXAMPLES = sorted((ROOT / "migrations_examples").glob("*.*")) + sorted(
    (ROOT / "migrations_examples" / "partitioned").glob("*.*")
)

OLD, NEW = "old", "new"

# (client, statement, expected): the client runs the statement before complete; the
# expected value is its first column (a list: every row's), an error class it must
# raise, or None (only run it). After complete the owner runs AFTER's the same way.
Step = tuple[str, str, Any]

SCENARIOS: dict[str, list[Step]] = {
    "0001_create_users": [
        (NEW, "INSERT INTO users (id, email) VALUES (1, 'a@example.com')", None),
        (NEW, "INSERT INTO orders (id, user_id, amount_cents) VALUES (1, 1, 500)", None),
        (NEW, "SELECT status FROM orders WHERE id = 1", "new"),
    ],
    "0002_add_users_country": [
        (OLD, "INSERT INTO users (id, email, name) VALUES (100001, 'old@x.test', 'Old')", None),
        (
            NEW,
            "INSERT INTO users (id, email, name, country, email_verified) "
            "VALUES (100002, 'new@x.test', 'New', 'DE', true)",
            None,
        ),
        (NEW, "SELECT country FROM users WHERE id = 100001", "unknown"),
    ],
    "0003_rename_users_email": [
        (OLD, "INSERT INTO users (id, email, name) VALUES (100001, 'old@x.test', 'Old')", None),
        (OLD, "UPDATE users SET email = 'renamed@x.test' WHERE id = 1", None),
        (
            NEW,
            "INSERT INTO users (id, email_address, name) VALUES (100002, 'new@x.test', 'New')",
            None,
        ),
        (NEW, "SELECT email_address FROM users WHERE id = 100001", "old@x.test"),
        (OLD, "SELECT email FROM users WHERE id = 100002", "new@x.test"),
    ],
    "0004_orders_amount_bigint": [
        (
            OLD,
            "INSERT INTO orders (id, user_id, amount_cents) VALUES (100001, 1, 2147483000)",
            None,
        ),
        (
            OLD,
            "INSERT INTO users (id, email_address, name) VALUES (100001, 'old@x.test', NULL)",
            None,
        ),
        (
            NEW,
            "INSERT INTO orders (id, user_id, amount_cents) VALUES (100002, 1, 5000000000)",
            None,
        ),
        (  # name is NOT NULL for the new version at once
            NEW,
            "INSERT INTO users (id, email_address) VALUES (100002, 'new@x.test')",
            errors.CheckViolation,
        ),
        (NEW, "SELECT amount_cents FROM orders WHERE id = 100001", 2147483000),
        (NEW, "SELECT name FROM users WHERE id = 100001", "old"),
        (OLD, "SELECT amount_cents FROM orders WHERE id = 100002", 2147483647),
    ],
    "0005_users_settings_jsonb": [
        (
            OLD,
            "INSERT INTO users (id, email_address, name, age, settings) "
            """VALUES (100001, 'old@x.test', 'Old', 33, '{"a": 1}')""",
            None,
        ),
        (
            NEW,
            "INSERT INTO users (id, email_address, name, settings) "
            """VALUES (100002, 'new@x.test', 'New', '{"b": 2}')""",
            None,
        ),
        (NEW, "SELECT settings->>'a' FROM users WHERE id = 100001", "1"),
        (OLD, "SELECT settings::jsonb->>'b' FROM users WHERE id = 100002", "2"),
    ],
    "0006_orders_constraints": [
        (
            OLD,
            "INSERT INTO orders (id, user_id, amount_cents, status) VALUES (100001, 1, 10, 'paid')",
            None,
        ),
        (
            OLD,
            "INSERT INTO orders (id, user_id, amount_cents, status) VALUES (100002, 1, 10, 'lost')",
            errors.CheckViolation,
        ),
        (
            NEW,
            "INSERT INTO users (id, email_address, name) VALUES (100001, 'user1@example.org', 'X')",
            errors.UniqueViolation,
        ),
        (
            NEW,
            "INSERT INTO orders (id, user_id, amount_cents, status) "
            "VALUES (100003, 1, 20, 'shipped')",
            None,
        ),
    ],
    "0007_audit_table": [
        (OLD, "UPDATE users SET country = 'FR' WHERE id = 1", None),
        (NEW, "INSERT INTO audit_events (id, user_id, kind) VALUES (1, 1, 'login')", None),
        (NEW, "SELECT count(*) FROM audit_events", 1),
    ],
    "0008_users_email_domain": [
        (
            OLD,
            "INSERT INTO users (id, email_address, name) VALUES (100001, 'old@old.test', 'Old')",
            None,
        ),
        (OLD, "UPDATE users SET email_address = 'moved@moved.test' WHERE id = 2", None),
        (
            NEW,
            "INSERT INTO users (id, email_address, name, email_domain) "
            "VALUES (100002, 'new@new.test', 'New', 'new.test')",
            None,
        ),
        (
            NEW,
            "SELECT email_domain FROM users WHERE id IN (2, 3, 100001) ORDER BY id",
            [
                "moved.test",
                "example.com",
                "old.test",
            ],
        ),
    ],
    "0009_coupons": [
        (
            OLD,
            "INSERT INTO orders (id, user_id, amount_cents, status) VALUES (100001, 1, 10, 'new')",
            None,
        ),
        (NEW, "INSERT INTO coupons (id, code, percent_off) VALUES (1, 'WELCOME', 10)", None),
        (
            NEW,
            "INSERT INTO orders (id, user_id, amount_cents, coupon_id) VALUES (100002, 1, 20, 1)",
            None,
        ),
        (NEW, "SELECT coupon_id FROM orders WHERE id = 100001", None),
        (
            NEW,
            "INSERT INTO coupons (id, code, percent_off) VALUES (2, 'BIG', 200)",
            errors.CheckViolation,
        ),
    ],
    "0010_orders_coupon_fk": [
        (
            OLD,
            "INSERT INTO orders (id, user_id, amount_cents, coupon_id) VALUES (100001, 1, 10, 1)",
            None,
        ),
        (
            OLD,
            "INSERT INTO orders (id, user_id, amount_cents, coupon_id) VALUES (100002, 1, 10, 99)",
            errors.ForeignKeyViolation,
        ),
        (
            NEW,
            "INSERT INTO orders (id, user_id, amount_cents, coupon_id) VALUES (100003, 1, 20, 2)",
            None,
        ),
    ],
    "0011_drop_audit_events": [
        (OLD, "INSERT INTO audit_events (id, user_id, kind) VALUES (100001, 1, 'logout')", None),
        (
            NEW,
            "SELECT count(*) FROM information_schema.views "
            "WHERE table_schema = current_schema() AND table_name = 'audit_events'",
            0,
        ),
        (NEW, "SELECT count(*) FROM users", 2000),
    ],
    "0012_rename_coupons": [
        (OLD, "INSERT INTO coupons (id, code, percent_off) VALUES (10, 'OLD10', 10)", None),
        (NEW, "INSERT INTO promo_codes (id, code, percent_off) VALUES (11, 'NEW11', 11)", None),
        (NEW, "SELECT code FROM promo_codes WHERE id = 10", "OLD10"),
        (OLD, "SELECT code FROM coupons WHERE id = 11", "NEW11"),
    ],
    "0013_orders_status_values": [
        (
            OLD,
            "INSERT INTO orders (id, user_id, amount_cents, status) VALUES (100001, 1, 10, 'paid')",
            None,
        ),
        (
            NEW,
            "INSERT INTO orders (id, user_id, amount_cents, status) "
            "VALUES (100002, 1, 20, 'shipped')",
            None,
        ),
        (
            NEW,
            "INSERT INTO orders (id, user_id, amount_cents, status) "
            "VALUES (100003, 1, 20, 'refunded')",
            errors.CheckViolation,
        ),
    ],
    "0014_users_is_verified": [
        (
            OLD,
            "INSERT INTO users (id, email_address, name, email_domain) "
            "VALUES (100001, 'old@x.test', 'Old', 'x.test')",
            None,
        ),
        (
            NEW,
            "INSERT INTO users (id, email_address, name, email_domain) "
            "VALUES (100002, 'new@x.test', 'New', 'x.test')",
            None,
        ),
        (NEW, "SELECT is_verified FROM users WHERE id = 100002", False),
        (OLD, "SELECT email_verified FROM users WHERE id = 100002", False),
        (NEW, "SELECT is_verified FROM users WHERE id = 100001", None),
    ],
    "0001_page_views_is_bot": [
        (
            OLD,
            "INSERT INTO page_views (id, viewed_at, user_id, path, user_agent) "
            "VALUES (100001, '2026-01-15', 1, '/a', 'SomeBot/1.0')",
            None,
        ),
        (
            OLD,
            "INSERT INTO page_views (id, viewed_at, user_id, path, user_agent) "
            "VALUES (100002, '2027-05-01', 2, '/b', 'Mozilla/5.0')",
            None,
        ),
        (
            NEW,
            "INSERT INTO page_views (id, viewed_at, user_id, path, user_agent, is_bot) "
            "VALUES (100003, '2026-02-10', 3, '/c', 'Mozilla/5.0', false)",
            None,
        ),
        (
            NEW,
            "SELECT is_bot FROM page_views WHERE id IN (100001, 100002) ORDER BY id",
            [
                True,
                False,
            ],
        ),
    ],
}

AFTER: dict[str, list[str | tuple[str, Any]]] = {
    "0001_create_users": [("SELECT amount_cents FROM orders WHERE id = 1", 500)],
    "0002_add_users_country": [
        ("SELECT country FROM users WHERE id IN (100001, 100002) ORDER BY id", ["unknown", "DE"]),
    ],
    "0003_rename_users_email": [
        (
            "SELECT email_address FROM users WHERE id IN (1, 100001, 100002) ORDER BY id",
            ["renamed@x.test", "old@x.test", "new@x.test"],
        ),
    ],
    "0004_orders_amount_bigint": [
        (
            "SELECT amount_cents FROM orders WHERE id IN (100001, 100002) ORDER BY id",
            [2147483000, 5000000000],
        ),
        (
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'orders'::regclass AND attname = 'amount_cents'",
            "bigint",
        ),
        ("SELECT name FROM users WHERE id = 100001", "old"),
        ("SELECT count(*) FROM users WHERE name IS NULL", 0),
    ],
    "0005_users_settings_jsonb": [
        ("SELECT settings->>'b' FROM users WHERE id = 100002", "2"),
        (
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass "
            "AND attname = 'age' AND NOT attisdropped",
            0,
        ),
    ],
    "0006_orders_constraints": [
        (
            "SELECT count(*) FROM pg_constraint WHERE conname IN "
            "('orders_status_check', 'users_email_address_key') AND convalidated",
            2,
        ),
    ],
    "0007_audit_table": [
        ("SELECT count(*) FROM audit_events", 1),
        ("SELECT to_regclass('public.users_country_idx') IS NULL", True),
    ],
    "0008_users_email_domain": [
        (
            "SELECT count(*) FROM users WHERE email_domain IS DISTINCT FROM "
            "split_part(email_address, '@', 2)",
            0,
        ),
        (
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass "
            "AND attname = 'email_domain'",
            True,
        ),
    ],
    "0009_coupons": [
        ("SELECT coupon_id FROM orders WHERE id IN (100001, 100002) ORDER BY id", [None, 1]),
    ],
    "0010_orders_coupon_fk": [
        ("SELECT convalidated FROM pg_constraint WHERE conname = 'orders_coupon_id_fkey'", True),
        "DELETE FROM coupons WHERE id = 2",
        ("SELECT coupon_id FROM orders WHERE id = 100003", None),
    ],
    "0011_drop_audit_events": [("SELECT to_regclass('public.audit_events') IS NULL", True)],
    "0012_rename_coupons": [
        ("SELECT code FROM promo_codes WHERE id IN (10, 11) ORDER BY id", ["OLD10", "NEW11"]),
        ("SELECT to_regclass('public.coupons') IS NULL", True),
    ],
    "0013_orders_status_values": [
        "INSERT INTO orders (id, user_id, amount_cents, status) VALUES (100003, 1, 30, 'refunded')",
        ("SELECT count(*) FROM orders WHERE status = 'refunded'", 1),
        ("SELECT count(*) FROM pg_constraint WHERE conname = 'orders_status_check'", 0),
    ],
    "0014_users_is_verified": [
        ("SELECT is_verified FROM users WHERE id IN (100001, 100002) ORDER BY id", [None, False]),
        (
            "SELECT column_default FROM information_schema.columns "
            "WHERE table_name = 'users' AND column_name = 'is_verified'",
            "false",
        ),
    ],
    "0001_page_views_is_bot": [
        (
            "SELECT count(*) FROM page_views "
            "WHERE is_bot IS DISTINCT FROM COALESCE(user_agent ILIKE '%bot%', false)",
            0,
        ),
        ("SELECT count(*) FROM page_views WHERE id = 100003 AND NOT is_bot", 1),
        (
            "SELECT bool_and(i.indisvalid) FROM pg_index i "
            "WHERE i.indexrelid = 'page_views_user_id_idx'::regclass",
            True,
        ),
    ],
}


@dataclass(frozen=True)
class Roles:
    url: str  # the migration role: owns the database, not a superuser
    app_url: str  # the app's role: the privileges the schema's defaults give it


@pytest.fixture(scope="module")
def roles(pg_server: Server) -> Iterator[Roles]:
    name = _create_database(pg_server)
    tag = uuid.uuid4().hex[:8]
    migrator, app = f"zdm_mig_{tag}", f"zdm_app_{tag}"
    url = pg_server.url_for(name)
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        for role in (migrator, app):
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(name), sql.Identifier(migrator)
            )
        )
        admin.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(migrator)))
    try:
        yield Roles(
            psycopg.conninfo.make_conninfo(url, user=migrator),
            psycopg.conninfo.make_conninfo(url, user=app),
        )
    finally:
        _drop_database(pg_server, name)
        with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
            for role in (migrator, app):
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def database(roles: Roles) -> Roles:
    """The module's database, emptied, with the app role's default privileges."""
    _empty(roles.url)
    app = sql.Identifier(psycopg.conninfo.conninfo_to_dict(roles.app_url)["user"])
    with psycopg.connect(roles.url, autocommit=True) as conn:
        conn.execute(sql.SQL(_APP_PRIVILEGES).format(app=app))
    return roles


def _setup(url: str, example: Path) -> None:
    """Run the example's setup SQL (``setup/<name>.sql`` beside it) as the migration role."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_setup_file(example).read_text())  # type: ignore[arg-type]


def _setup_file(example: Path) -> Path:
    return example.parent / "setup" / f"{example.stem}.sql"


def _ok(url: str, *args: str) -> Result:
    res = zdm("--database-url", url, *args)
    assert res.exit_code == 0, res.stderr + res.stdout
    return res


def _run(conn: Conn, statement: str, expected: Any) -> None:
    if isinstance(expected, type) and issubclass(expected, Exception):
        with pytest.raises(expected):
            conn.execute(statement)  # type: ignore[arg-type]
        return
    cur = conn.execute(statement)  # type: ignore[arg-type]
    if cur.description is None:
        assert expected is None, statement
        return
    values = [next(iter(row.values())) for row in cur.fetchall()]
    got = values if isinstance(expected, list) else values[0]
    assert got == expected, f"{statement}: {got!r} != {expected!r}"


def test_every_example_has_a_setup_and_a_scenario() -> None:
    names = sorted(p.stem for p in EXAMPLES)
    assert len(names) >= 12
    assert names == sorted(SCENARIOS) == sorted(AFTER)
    assert all(_setup_file(p).exists() for p in EXAMPLES)


def test_every_example_says_when_to_use_it_and_is_listed_in_the_docs() -> None:
    docs = (ROOT / "docs" / "migration-files.md").read_text()
    for example in EXAMPLES:
        text = example.read_text()
        when = (
            json.loads(text)["description"] if example.suffix == ".json" else text.splitlines()[0]
        )
        assert when.startswith(("# When to use: ", "When to use: ")), example.name
        rel = example.relative_to(ROOT / "migrations_examples").as_posix()
        assert f"[`{rel}`](../migrations_examples/{rel})" in docs, rel


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_applies_serves_both_versions_and_completes(example: Path, database: Roles) -> None:
    name = example.stem
    _setup(database.url, example)
    plan = json.loads(_ok(database.url, "plan", "--format", "json", str(example)).stdout)
    assert plan["live"] is True
    _ok(database.url, "apply", str(example))
    version_schema = f"public_{name}"
    old = connect(database.app_url)
    new = connect(database.app_url, f"{sql.Identifier(version_schema).as_string()}, public")
    try:
        for who, statement, expected in SCENARIOS[name]:
            _run(old if who == OLD else new, statement, expected)
        verified = json.loads(_ok(database.url, "verify", name, "--format", "json").stdout)
        assert verified["ok"] and verified["mismatches"] == 0
        checked = sum(t["rows_checked"] for t in verified["tables"])
        assert (checked > 0) == bool(plan["phases"]["backfill"]), verified
    finally:
        old.close()  # the old app is gone: the gate would count its session
    _ok(database.url, "complete", name)
    new.close()
    with connect(database.url) as owner:
        for item in AFTER[name]:
            statement, expected = item if isinstance(item, tuple) else (item, None)
            _run(owner, statement, expected)
    status = _ok(database.url, "status", "--format", "json")
    assert '"completed"' in status.stdout


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_rolls_back_to_the_setup(example: Path, database: Roles) -> None:
    name = example.stem
    _setup(database.url, example)
    before = public_snapshot(database.url)
    _ok(database.url, "apply", str(example))
    old = connect(database.app_url)
    try:
        first = next((s for s in SCENARIOS[name] if s[0] == OLD and s[2] is None), None)
        if first is not None:  # the old app writes while the migration is in flight
            _run(old, first[1], None)
    finally:
        old.close()
    _ok(database.url, "rollback", name)
    assert diff(public_snapshot(database.url), before) == []
