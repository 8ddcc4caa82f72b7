"""tests/catalog.py: snapshots of two databases compare equal exactly when their DDL does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.catalog import diff, snapshot
from tests.pgserver import Server
from zdmigrate.engine.state import init_state

Conn = psycopg.Connection[Any]

BASE = """
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    age integer,
    name text DEFAULT 'anon',
    email_lower text GENERATED ALWAYS AS (lower(email)) STORED
);
CREATE TABLE orders (
    id serial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    total numeric(10, 2) CHECK (total >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_user_idx ON orders (user_id) WHERE total > 0;
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION add(a integer, b integer) RETURNS integer LANGUAGE sql AS 'SELECT a + b';
CREATE VIEW adults AS SELECT id, email FROM users WHERE name <> 'child';
"""


@pytest.fixture
def other(pg_server: Server) -> Iterator[Conn]:
    """A second fresh database on the same server, to apply DDL to directly."""
    name = f"zdm_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(pg_server.url_for(name), autocommit=True) as conn:
            yield conn
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def run(conn: Conn, ddl: str) -> None:
    conn.execute(ddl.encode())  # several statements, no parameters


def pg18(conn: Conn) -> bool:
    return conn.info.server_version >= 180000


def test_same_ddl_in_two_databases_is_equal(db: Conn, other: Conn) -> None:
    run(db, BASE)
    run(other, BASE)
    a, b = snapshot(db), snapshot(other)
    assert diff(a, b) == []
    assert a == b


def test_snapshot_covers_the_schema(db: Conn) -> None:
    run(db, BASE)
    snap = snapshot(db)
    assert sorted(snap["tables"]) == ["events", "events_2024", "orders", "users"]
    assert snap["tables"]["events"]["kind"] == "partitioned table"
    users = snap["tables"]["users"]
    assert users["columns"]["id"] == {
        "type": "bigint",
        "not_null": True,
        "default": None,
        "identity": "always",
        "generated": None,
    }
    assert users["columns"]["email_lower"]["generated"] == "stored"
    assert users["columns"]["email_lower"]["default"] == "lower(email)"
    assert users["columns"]["name"]["default"] == "'anon'::text"
    assert users["constraints"]["users_pkey"] == {
        "type": "primary key",
        "definition": "PRIMARY KEY (id)",
        "validated": True,
    }
    assert users["indexes"]["users_email_key"] == {
        "definition": "CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)",
        "valid": True,
        "unique": True,
        "primary": False,
    }
    orders = snap["tables"]["orders"]
    assert orders["columns"]["id"]["default"] == "nextval('orders_id_seq'::regclass)"
    assert orders["constraints"]["orders_user_id_fkey"]["type"] == "foreign key"
    assert orders["indexes"]["orders_user_idx"]["definition"] == (
        "CREATE INDEX orders_user_idx ON public.orders USING btree (user_id) WHERE (total > (0)::numeric)"
    )
    assert "adults" in snap["views"]
    assert snap["functions"] == ["add(a integer, b integer)", "touch()"]
    assert snap["schemas"] == ["public"]


def test_snapshot_is_json_serialisable_and_deterministic(db: Conn) -> None:
    run(db, BASE)
    first = json.dumps(snapshot(db))
    assert json.dumps(snapshot(db)) == first
    assert diff(json.loads(first), snapshot(db)) == []


# (extra DDL applied to the second database only, expected diff lines)
DIFFERENCES: dict[str, tuple[str, list[str]]] = {
    "type": (
        "ALTER TABLE users ALTER COLUMN age TYPE bigint",
        ["table users: column age: type integer != bigint"],
    ),
    "nullability": (
        "ALTER TABLE users ALTER COLUMN age SET NOT NULL",
        ["table users: column age: not_null false != true"],
    ),
    "default": (
        "ALTER TABLE users ALTER COLUMN age SET DEFAULT 0",
        ["table users: column age: default null != 0"],
    ),
    "changed default": (
        "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'x'",
        ["table users: column name: default 'anon'::text != 'x'::text"],
    ),
    "check constraint": (
        "ALTER TABLE users ADD CONSTRAINT users_age_check CHECK (age > 0)",
        ["table users: constraint users_age_check: only in second snapshot"],
    ),
    "not valid constraint": (
        "ALTER TABLE orders DROP CONSTRAINT orders_total_check;"
        "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0) NOT VALID",
        ["table orders: constraint orders_total_check: validated true != false"],
    ),
    "changed check": (
        "ALTER TABLE orders DROP CONSTRAINT orders_total_check;"
        "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total > 0)",
        [
            "table orders: constraint orders_total_check: definition "
            "CHECK ((total >= (0)::numeric)) != CHECK ((total > (0)::numeric))"
        ],
    ),
    "index": (
        "CREATE INDEX users_age_idx ON users (age)",
        ["table users: index users_age_idx: only in second snapshot"],
    ),
    "dropped index": (
        "DROP INDEX orders_user_idx",
        ["table orders: index orders_user_idx: only in first snapshot"],
    ),
    "trigger": (
        "CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()",
        ["table users: trigger users_touch: only in second snapshot"],
    ),
    "extra schema": (
        "CREATE SCHEMA extra",
        ["schema extra: only in second snapshot"],
    ),
    "extra column": (
        "ALTER TABLE users ADD COLUMN nick text",
        ["table users: column nick: only in second snapshot"],
    ),
    "extra table": (
        "CREATE TABLE audit (id int)",
        ["table audit: only in second snapshot"],
    ),
    "view": (
        "CREATE OR REPLACE VIEW adults AS SELECT id, email FROM users WHERE name <> 'kid'",
        ["view adults:"],  # the definition text is the server's; match the prefix
    ),
    "function": (
        "CREATE FUNCTION add(a bigint, b bigint) RETURNS bigint LANGUAGE sql AS 'SELECT a + b'",
        ["function add(a bigint, b bigint): only in second snapshot"],
    ),
}


@pytest.mark.parametrize("case", list(DIFFERENCES))
def test_each_difference_gives_a_specific_line(db: Conn, other: Conn, case: str) -> None:
    ddl, expected = DIFFERENCES[case]
    run(db, BASE)
    run(other, BASE)
    run(other, ddl)
    if case == "nullability" and pg18(other):
        # PostgreSQL 18 also records NOT NULL as a named constraint.
        expected = [
            *expected,
            "table users: constraint users_age_not_null: only in second snapshot",
        ]
    got = diff(snapshot(db), snapshot(other))
    if case == "view":
        assert len(got) == 1 and got[0].startswith("view adults: ") and " != " in got[0]
        assert "'child'" in got[0] and "'kid'" in got[0] and "\n" not in got[0]
    else:
        assert sorted(got) == sorted(expected)
    # and the other way round, mirrored
    back = diff(snapshot(other), snapshot(db))
    assert len(back) == len(got)


def test_column_order_and_dropped_columns_do_not_count(db: Conn, other: Conn) -> None:
    run(db, "CREATE TABLE t (a int NOT NULL, b text, c date)")
    run(
        other, "CREATE TABLE t (c date, x int, b text, a int NOT NULL); ALTER TABLE t DROP COLUMN x"
    )
    assert diff(snapshot(db), snapshot(other)) == []


def test_state_tables_are_left_out_but_the_schema_is_listed(db: Conn, other: Conn) -> None:
    run(db, BASE)
    run(other, BASE)
    init_state(other)
    a, b = snapshot(db), snapshot(other)
    assert "zdmigrate" in b["schemas"]
    assert diff(a, b) == ["schema zdmigrate: only in second snapshot"]
    assert snapshot(other, "zdmigrate")["tables"] == {}


def test_other_schemas_can_be_snapshotted(db: Conn) -> None:
    run(
        db,
        "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY); CREATE TABLE public.u (x int)",
    )
    app = snapshot(db, "app")
    assert list(app["tables"]) == ["t"]
    assert app["tables"]["t"]["indexes"]["t_pkey"]["definition"] == (
        "CREATE UNIQUE INDEX t_pkey ON app.t USING btree (id)"
    )
    assert list(snapshot(db)["tables"]) == ["u"]
    assert app["schemas"] == ["app", "public"]


NAMED_A = """
CREATE TABLE t (id int, v int, w int);
ALTER TABLE t ADD CONSTRAINT pk_a PRIMARY KEY (id);
ALTER TABLE t ADD CONSTRAINT v_positive_a CHECK (v > 0);
ALTER TABLE t ADD CONSTRAINT w_positive_a CHECK (w > 0);
ALTER TABLE t ADD CONSTRAINT w_positive_again_a CHECK (w > 0);
CREATE INDEX "v idx a" ON t (v);
CREATE UNIQUE INDEX w_uniq_a ON t (w);
"""
NAMED_B = """
CREATE TABLE t (id int, v int, w int);
ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY (id);
ALTER TABLE t ADD CONSTRAINT w_check CHECK (w > 0);
ALTER TABLE t ADD CONSTRAINT t_w_check1 CHECK (w > 0);
ALTER TABLE t ADD CONSTRAINT t_v_check CHECK (v > 0);
CREATE INDEX ON t (v);
CREATE UNIQUE INDEX ON t (w);
"""


def test_ignore_constraint_names(db: Conn, other: Conn) -> None:
    run(db, NAMED_A)
    run(other, NAMED_B)
    named = diff(snapshot(db), snapshot(other))
    assert "table t: constraint pk_a: only in first snapshot" in named
    assert "table t: index v idx a: only in first snapshot" in named
    a = snapshot(db, ignore_constraint_names=True)
    b = snapshot(other, ignore_constraint_names=True)
    assert diff(a, b) == []
    t = a["tables"]["t"]
    assert sorted(k for k in t["constraints"] if "NOT NULL" not in k) == [
        "CHECK ((v > 0))",
        "CHECK ((w > 0))",
        "CHECK ((w > 0)) #2",
        "PRIMARY KEY (id)",
    ]
    assert sorted(t["indexes"]) == [
        "CREATE INDEX ON public.t USING btree (v)",
        "CREATE UNIQUE INDEX ON public.t USING btree (id)",
        "CREATE UNIQUE INDEX ON public.t USING btree (w)",
    ]


def test_ignore_constraint_names_still_sees_real_differences(db: Conn, other: Conn) -> None:
    run(db, "CREATE TABLE t (v int CONSTRAINT c1 CHECK (v > 0))")
    run(other, "CREATE TABLE t (v int CONSTRAINT c2 CHECK (v > 1))")
    got = diff(
        snapshot(db, ignore_constraint_names=True), snapshot(other, ignore_constraint_names=True)
    )
    assert got == [
        "table t: constraint CHECK ((v > 0)): only in first snapshot",
        "table t: constraint CHECK ((v > 1)): only in second snapshot",
    ]
