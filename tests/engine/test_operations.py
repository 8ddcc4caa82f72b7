"""Every operation end to end on a real server (issue 3, test set 1).

For each case, on tables holding a few hundred rows:

- after ``apply``, an old-version client (physical tables, old names) and a
  new-version client (the version schema on its search_path) both SELECT,
  INSERT, UPDATE and DELETE, and each sees the other's writes transformed;
- after ``complete``, the ``public`` schema equals a database where the target
  DDL was applied directly, and nothing of zdmigrate is left on the tables;
- after ``rollback``, the ``public`` schema equals the original one and the
  version schema is gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import errors as pgerr
from psycopg import sql

from tests.catalog import diff
from tests.engine.conftest import Conn, Migrator, public_snapshot, snapshot_of

ROWS = 300

BASE = f"""
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email text NOT NULL,
    name text,
    age integer,
    settings text,
    code varchar(50),
    nickname text,
    handle text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    status text DEFAULT 'new'
);
CREATE INDEX users_email_idx ON users (email);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL CONSTRAINT orders_user_id_check CHECK (user_id > 0),
    amount integer NOT NULL CONSTRAINT orders_amount_check CHECK (amount >= 0),
    note text
);
CREATE INDEX orders_amount_idx ON orders (amount);
CREATE TABLE legacy (id integer PRIMARY KEY, payload text);
INSERT INTO users (id, email, name, age, settings, code, nickname, handle)
SELECT g, 'u' || g || '@ex.com',
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'user' || g END,
       g % 80,
       CASE WHEN g % 2 = 0 THEN '{{"theme": "dark", "n": ' || g || '}}' END,
       'C' || g, 'nick' || g, 'h' || g
  FROM generate_series(1, {ROWS}) g;
INSERT INTO orders SELECT g, g % {ROWS} + 1, g * 10, 'note ' || g FROM generate_series(1, {ROWS}) g;
INSERT INTO legacy SELECT g, 'p' || g FROM generate_series(1, {ROWS}) g;
"""

Row = dict[str, Any]
Extra = Callable[[Conn, Conn, str], None]


@dataclass(frozen=True)
class Crud:
    """What one table looks like to both versions, and how writes cross over.

    Inserts use keys 1001 (old) and 1002 (new); ``old_update`` and
    ``new_update`` are (key, assignments, what the other version then sees);
    ``deletes`` are the keys the old and the new version delete.
    """

    table: str
    new_table: str | None = None
    existing: dict[int, tuple[Row, Row]] = field(default_factory=dict)
    old_insert: Row = field(default_factory=dict)
    new_sees_old_insert: Row = field(default_factory=dict)
    new_insert: Row = field(default_factory=dict)
    old_sees_new_insert: Row = field(default_factory=dict)
    old_update: tuple[int, Row, Row] | None = None
    new_update: tuple[int, Row, Row] | None = None
    deletes: tuple[int, int] = (10, 11)
    new_hides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    id: str
    ops: list[dict[str, Any]]
    direct: str
    cruds: tuple[Crud, ...]
    extra: Extra | None = None


def _select(conn: Conn, table: str, key: int) -> Row | None:
    query = sql.SQL("SELECT * FROM {} WHERE id = %s").format(sql.Identifier(table))
    row: Row | None = conn.execute(query, (key,)).fetchone()
    return row


def _expect(conn: Conn, table: str, key: int, expected: Row, who: str) -> Row:
    row = _select(conn, table, key)
    assert row is not None, f"{who}: row {key} of {table} is missing"
    got = {k: row.get(k, "<no such column>") for k in expected}
    assert got == expected, f"{who}: row {key} of {table}"
    return row


def _insert(conn: Conn, table: str, values: Row) -> None:
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, values)),
            sql.SQL(", ").join(sql.Placeholder() * len(values)),
        ),
        list(values.values()),
    )


def _update(conn: Conn, table: str, key: int, values: Row) -> None:
    cur = conn.execute(
        sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
            sql.Identifier(table),
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in values),
        ),
        [*values.values(), key],
    )
    assert cur.rowcount == 1


def _delete(conn: Conn, table: str, key: int) -> None:
    cur = conn.execute(
        sql.SQL("DELETE FROM {} WHERE id = %s").format(sql.Identifier(table)), (key,)
    )
    assert cur.rowcount == 1


def _count(conn: Conn, table: str) -> int:
    row = conn.execute(
        sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table))
    ).fetchone()
    assert row is not None
    return int(row["n"])


def exercise(old: Conn, new: Conn, c: Crud) -> None:
    """SELECT, INSERT, UPDATE, DELETE from both versions; each sees the other's writes."""
    ot, nt = c.table, c.new_table or c.table
    for key, (as_old, as_new) in c.existing.items():
        _expect(old, ot, key, as_old, "old")
        row = _expect(new, nt, key, as_new, "new")
        assert not set(c.new_hides) & set(row), f"new version sees {c.new_hides}"
    _insert(old, ot, {"id": 1001, **c.old_insert})
    _expect(new, nt, 1001, {"id": 1001, **c.new_sees_old_insert}, "new reads old insert")
    _insert(new, nt, {"id": 1002, **c.new_insert})
    _expect(old, ot, 1002, {"id": 1002, **c.old_sees_new_insert}, "old reads new insert")
    if c.old_update is not None:
        key, values, seen = c.old_update
        _update(old, ot, key, values)
        _expect(new, nt, key, seen, "new reads old update")
    if c.new_update is not None:
        key, values, seen = c.new_update
        _update(new, nt, key, values)
        _expect(old, ot, key, seen, "old reads new update")
    old_key, new_key = c.deletes
    _delete(old, ot, old_key)
    assert _select(new, nt, old_key) is None
    _delete(new, nt, new_key)
    assert _select(old, ot, new_key) is None
    assert _count(old, ot) == _count(new, nt)


def _fails(conn: Conn, query: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        conn.execute(query)


# ---------------------------------------------------------------- extras


def _new_null_name_refused(old: Conn, new: Conn, vs: str) -> None:
    _fails(
        new, "INSERT INTO users (id, email, handle) VALUES (2001, 'x@y', 'h')", pgerr.CheckViolation
    )
    # an old writer's NULL is filled by up
    old.execute("INSERT INTO users (id, email, handle, name) VALUES (2002, 'x@y', 'h', NULL)")
    _expect(new, "users", 2002, {"name": "anon"}, "new")


def _index_valid(name: str, present: bool) -> Extra:
    def check(old: Conn, new: Conn, vs: str) -> None:
        row = old.execute(
            "SELECT x.indisvalid AS valid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
            "WHERE c.relname = %s",
            (name,),
        ).fetchone()
        assert (row is not None and row["valid"]) == present

    return check


def _legacy_hidden(old: Conn, new: Conn, vs: str) -> None:
    row = new.execute("SELECT to_regclass(%s) AS r", (f"{vs}.legacy",)).fetchone()
    assert row is not None and row["r"] is None
    old.execute("INSERT INTO legacy VALUES (5000, 'still used')")
    old.execute("UPDATE legacy SET payload = 'changed' WHERE id = 1")
    old.execute("DELETE FROM legacy WHERE id = 2")
    assert _select(old, "legacy", 1) == {"id": 1, "payload": "changed"}


def _amount_checked(old: Conn, new: Conn, vs: str) -> None:
    for conn in (old, new):
        _fails(conn, "INSERT INTO orders VALUES (3001, 1, -5, 'x')", pgerr.CheckViolation)
        _fails(conn, "UPDATE orders SET amount = -1 WHERE id = 20", pgerr.CheckViolation)


def _code_unique(old: Conn, new: Conn, vs: str) -> None:
    old.execute("INSERT INTO users (id, email, handle, code) VALUES (3001, 'a@b', 'h', 'K1')")
    for conn in (old, new):
        _fails(
            conn,
            "INSERT INTO users (id, email, handle, code) VALUES (3002, 'a@b', 'h', 'K1')",
            pgerr.UniqueViolation,
        )


def _user_fk(old: Conn, new: Conn, vs: str) -> None:
    for conn in (old, new):
        _fails(conn, "INSERT INTO orders VALUES (3001, 99999, 5, 'x')", pgerr.ForeignKeyViolation)
    old.execute("INSERT INTO users (id, email, handle) VALUES (3000, 'fk@x', 'h')")
    new.execute("INSERT INTO orders VALUES (3001, 3000, 5, 'x')")
    old.execute("DELETE FROM users WHERE id = 3000")  # on delete cascade
    assert _select(new, "orders", 3001) is None


def _buddy_constraints(old: Conn, new: Conn, vs: str) -> None:
    errors = {
        "buddy_id = 0": pgerr.CheckViolation,
        "buddy_id = 99999": pgerr.ForeignKeyViolation,
        "buddy_id = 1": pgerr.UniqueViolation,  # the new version's insert took 1
    }
    for conn in (old, new):
        for assignment, error in errors.items():
            _fails(conn, f"UPDATE users SET {assignment} WHERE id = 40", error)


def _check_kept_until_contract(old: Conn, new: Conn, vs: str) -> None:
    # the old version may rely on the constraint: it stays until contract
    for conn in (old, new):
        _fails(conn, "INSERT INTO orders VALUES (3001, 0, 5, 'x')", pgerr.CheckViolation)


def _lower_email_index(old: Conn, new: Conn, vs: str) -> None:
    _index_valid("users_lower_email_idx", True)(old, new, vs)


def _chain(*extras: Extra) -> Extra:
    def run(old: Conn, new: Conn, vs: str) -> None:
        for e in extras:
            e(old, new, vs)

    return run


# ---------------------------------------------------------------- cases

USER = {"email": "old@old.org", "handle": "hold"}
NEW_USER = {"email": "new@new.net", "handle": "hnew"}
ORDER = {"user_id": 7, "amount": 70, "note": "old"}


def _plain_users(**kw: Any) -> Crud:
    """users unchanged by the migration: both versions see the same rows."""
    base: dict[str, Any] = {
        "table": "users",
        "existing": {1: ({"email": "u1@ex.com"}, {"email": "u1@ex.com"})},
        "old_insert": USER,
        "new_sees_old_insert": USER,
        "new_insert": NEW_USER,
        "old_sees_new_insert": NEW_USER,
        "old_update": (2, {"name": "o2"}, {"name": "o2"}),
        "new_update": (3, {"name": "n3"}, {"name": "n3"}),
    }
    base.update(kw)
    return Crud(**base)


def _plain_orders(**kw: Any) -> Crud:
    base: dict[str, Any] = {
        "table": "orders",
        "existing": {1: ({"amount": 10}, {"amount": 10})},
        "old_insert": ORDER,
        "new_sees_old_insert": ORDER,
        "new_insert": {"user_id": 8, "amount": 80},
        "old_sees_new_insert": {"user_id": 8, "amount": 80},
        "old_update": (2, {"amount": 21}, {"amount": 21}),
        "new_update": (3, {"amount": 31}, {"amount": 31}),
    }
    base.update(kw)
    return Crud(**base)


CASES = [
    Case(
        "add_column_nullable",
        [{"add_column": {"table": "users", "column": {"name": "phone", "type": "text"}}}],
        "ALTER TABLE users ADD COLUMN phone text",
        (
            _plain_users(
                existing={1: ({"email": "u1@ex.com"}, {"phone": None})},
                new_sees_old_insert={"phone": None, **USER},
                new_insert={"phone": "555", **NEW_USER},
                old_update=(2, {"name": "o2"}, {"name": "o2", "phone": None}),
                new_update=(3, {"phone": "777"}, {"name": "user3"}),
            ),
        ),
    ),
    Case(
        "add_column_default",
        [
            {
                "add_column": {
                    "table": "users",
                    "column": {"name": "country", "type": "text", "default": "'unknown'"},
                }
            }
        ],
        "ALTER TABLE users ADD COLUMN country text DEFAULT 'unknown'",
        (
            _plain_users(
                existing={1: ({"email": "u1@ex.com"}, {"country": "unknown"})},
                new_sees_old_insert={"country": "unknown"},
                new_insert={"country": "FR", **NEW_USER},
                old_sees_new_insert=NEW_USER,
                new_update=(3, {"country": "DE"}, {"name": "user3", "country": "DE"}),
            ),
        ),
    ),
    Case(
        "add_column_not_null_default",
        [
            {
                "add_column": {
                    "table": "users",
                    "column": {
                        "name": "score",
                        "type": "integer",
                        "nullable": False,
                        "default": "0",
                    },
                }
            }
        ],
        "ALTER TABLE users ADD COLUMN score integer NOT NULL DEFAULT 0",
        (
            _plain_users(
                existing={1: ({"email": "u1@ex.com"}, {"score": 0})},
                new_sees_old_insert={"score": 0, **USER},
                new_insert={"score": 5, **NEW_USER},
                new_update=(3, {"score": 9}, {"name": "user3"}),
                old_update=(2, {"name": "o2"}, {"name": "o2", "score": 0}),
            ),
        ),
    ),
    Case(
        "add_column_not_null_up",
        [
            {
                "add_column": {
                    "table": "users",
                    "column": {"name": "email_domain", "type": "text", "nullable": False},
                    "up": "split_part(email, '@', 2)",
                }
            }
        ],
        "ALTER TABLE users ADD COLUMN email_domain text;"
        "UPDATE users SET email_domain = split_part(email, '@', 2);"
        "ALTER TABLE users ALTER COLUMN email_domain SET NOT NULL",
        (
            _plain_users(
                existing={
                    1: ({"email": "u1@ex.com"}, {"email_domain": "ex.com"}),
                    299: ({"email": "u299@ex.com"}, {"email_domain": "ex.com"}),
                },
                new_sees_old_insert={"email_domain": "old.org"},
                new_insert={"email_domain": "chosen", **NEW_USER},
                old_sees_new_insert=NEW_USER,
                old_update=(2, {"email": "z@changed.io"}, {"email_domain": "changed.io"}),
                new_update=(3, {"email": "q@else.com"}, {"email": "q@else.com"}),
            ),
        ),
    ),
    Case(
        "drop_column",
        [{"drop_column": {"table": "users", "column": "nickname"}}],
        "ALTER TABLE users DROP COLUMN nickname",
        (
            _plain_users(
                existing={1: ({"nickname": "nick1"}, {"email": "u1@ex.com"})},
                old_insert={"nickname": "nn", **USER},
                old_sees_new_insert={"nickname": None, **NEW_USER},
                new_update=(3, {"name": "n3"}, {"name": "n3", "nickname": "nick3"}),
                new_hides=("nickname",),
            ),
        ),
    ),
    Case(
        "drop_column_not_null_down",
        [{"drop_column": {"table": "users", "column": "handle", "down": "'h' || id"}}],
        "ALTER TABLE users DROP COLUMN handle",
        (
            _plain_users(
                existing={1: ({"handle": "h1"}, {"email": "u1@ex.com"})},
                new_sees_old_insert={"email": USER["email"]},
                new_insert={"email": "new@new.net"},
                old_sees_new_insert={"handle": "h1002", "email": "new@new.net"},
                old_update=(2, {"handle": "mine"}, {"email": "u2@ex.com"}),
                new_update=(3, {"email": "n3@x"}, {"email": "n3@x", "handle": "h3"}),
                new_hides=("handle",),
            ),
        ),
    ),
    Case(
        "rename_column",
        [{"rename_column": {"table": "users", "from": "email", "to": "email_address"}}],
        "ALTER TABLE users RENAME COLUMN email TO email_address",
        (
            _plain_users(
                existing={1: ({"email": "u1@ex.com"}, {"email_address": "u1@ex.com"})},
                new_sees_old_insert={"email_address": USER["email"]},
                new_insert={"email_address": "new@new.net", "handle": "h"},
                old_sees_new_insert={"email": "new@new.net"},
                old_update=(2, {"email": "o@2"}, {"email_address": "o@2"}),
                new_update=(3, {"email_address": "n@3"}, {"email": "n@3"}),
                new_hides=("email",),
            ),
        ),
    ),
    Case(
        "alter_int_to_bigint",
        [{"alter_column": {"table": "orders", "column": "amount", "type": "bigint"}}],
        "ALTER TABLE orders ALTER COLUMN amount TYPE bigint",
        (
            _plain_orders(
                new_insert={"user_id": 8, "amount": 2_000_000_000},
                old_sees_new_insert={"amount": 2_000_000_000},
            ),
        ),
        extra=lambda old, new, vs: _fails(
            new, "INSERT INTO orders VALUES (3001, 1, NULL, 'x')", pgerr.IntegrityError
        ),
    ),
    Case(
        "alter_text_to_jsonb",
        [
            {
                "alter_column": {
                    "table": "users",
                    "column": "settings",
                    "type": "jsonb",
                    "up": "COALESCE(settings, '{}')::jsonb",
                    "down": "settings::text",
                }
            }
        ],
        "ALTER TABLE users ALTER COLUMN settings TYPE jsonb USING COALESCE(settings, '{}')::jsonb",
        (
            _plain_users(
                existing={
                    1: ({"settings": None}, {"settings": {}}),
                    2: (
                        {"settings": '{"theme": "dark", "n": 2}'},
                        {"settings": {"theme": "dark", "n": 2}},
                    ),
                },
                old_insert={"settings": '{"a":1}', **USER},
                new_sees_old_insert={"settings": {"a": 1}},
                new_insert={"settings": '{"b": [1,2]}', **NEW_USER},
                old_sees_new_insert={"settings": '{"b": [1, 2]}'},
                old_update=(4, {"settings": None}, {"settings": {}}),
                new_update=(5, {"settings": '{"c":true}'}, {"settings": '{"c": true}'}),
            ),
        ),
    ),
    Case(
        "alter_varchar_to_text",
        [{"alter_column": {"table": "users", "column": "code", "type": "text"}}],
        "ALTER TABLE users ALTER COLUMN code TYPE text",
        (
            _plain_users(
                existing={1: ({"code": "C1"}, {"code": "C1"})},
                old_insert={"code": "old", **USER},
                new_sees_old_insert={"code": "old"},
                new_insert={"code": "n" * 40, **NEW_USER},
                old_sees_new_insert={"code": "n" * 40},
                old_update=(2, {"code": "o2"}, {"code": "o2"}),
                new_update=(3, {"code": "n3"}, {"code": "n3"}),
            ),
        ),
    ),
    Case(
        "alter_set_not_null_with_up",
        [
            {
                "alter_column": {
                    "table": "users",
                    "column": "name",
                    "nullable": False,
                    # '%' must reach the server as is (backfill queries have parameters)
                    "up": "CASE WHEN name LIKE 'user%' THEN name ELSE COALESCE(name, 'anon') END",
                }
            }
        ],
        "UPDATE users SET name = COALESCE(name, 'anon');"
        "ALTER TABLE users ALTER COLUMN name SET NOT NULL",
        (
            _plain_users(
                existing={
                    5: ({"name": None}, {"name": "anon"}),
                    6: ({"name": "user6"}, {"name": "user6"}),
                },
                old_insert={"name": None, **USER},
                new_sees_old_insert={"name": "anon"},
                new_insert={"name": "newbie", **NEW_USER},
                old_sees_new_insert={"name": "newbie"},
                old_update=(20, {"email": "still-null@x"}, {"name": "anon"}),
                new_update=(25, {"name": "named"}, {"name": "named"}),
            ),
        ),
        extra=_new_null_name_refused,
    ),
    Case(
        "alter_type_keeps_default",
        [{"alter_column": {"table": "users", "column": "status", "type": "varchar(20)"}}],
        "ALTER TABLE users ALTER COLUMN status TYPE varchar(20)",
        (
            _plain_users(
                existing={1: ({"status": "new"}, {"status": "new"})},
                old_insert={"status": "o" * 30, **USER},  # CAST to varchar(20) cuts it
                new_sees_old_insert={"status": "o" * 20},
                old_sees_new_insert={"status": "new"},
                old_update=(2, {"status": "paid"}, {"status": "paid"}),
                new_update=(3, {"status": "sent"}, {"status": "sent"}),
            ),
        ),
    ),
    Case(
        "alter_drop_not_null_with_down",
        [
            {
                "alter_column": {
                    "table": "users",
                    "column": "handle",
                    "nullable": True,
                    "down": "COALESCE(handle, 'h' || id)",
                }
            }
        ],
        "ALTER TABLE users ALTER COLUMN handle DROP NOT NULL",
        (
            _plain_users(
                existing={1: ({"handle": "h1"}, {"handle": "h1"})},
                new_sees_old_insert={"handle": "hold"},
                new_insert={"handle": None, "email": "n@x"},
                old_sees_new_insert={"handle": "h1002"},
                old_update=(2, {"handle": "o2"}, {"handle": "o2"}),
                new_update=(3, {"handle": None}, {"handle": "h3"}),
            ),
        ),
    ),
    Case(
        "alter_set_default",
        [{"alter_column": {"table": "users", "column": "status", "default": "'active'"}}],
        "ALTER TABLE users ALTER COLUMN status SET DEFAULT 'active'",
        (
            _plain_users(
                existing={1: ({"status": "new"}, {"status": "new"})},
                new_sees_old_insert={"status": "new"},
                old_sees_new_insert={"status": "active"},
            ),
        ),
    ),
    Case(
        "alter_drop_default",
        [{"alter_column": {"table": "users", "column": "status", "drop_default": True}}],
        "ALTER TABLE users ALTER COLUMN status DROP DEFAULT",
        (
            _plain_users(
                new_sees_old_insert={"status": "new"},
                old_sees_new_insert={"status": None},
            ),
        ),
    ),
    Case(
        "alter_rename_and_type",
        [
            {
                "alter_column": {
                    "table": "users",
                    "column": "age",
                    "name": "years",
                    "type": "bigint",
                }
            }
        ],
        "ALTER TABLE users ALTER COLUMN age TYPE bigint;"
        "ALTER TABLE users RENAME COLUMN age TO years",
        (
            _plain_users(
                existing={7: ({"age": 7}, {"years": 7})},
                old_insert={"age": 33, **USER},
                new_sees_old_insert={"years": 33},
                new_insert={"years": 44, **NEW_USER},
                old_sees_new_insert={"age": 44},
                old_update=(2, {"age": 50}, {"years": 50}),
                new_update=(3, {"years": 60}, {"age": 60}),
                new_hides=("age",),
            ),
        ),
    ),
    Case(
        "add_column_with_constraints",
        [
            {
                "add_column": {
                    "table": "users",
                    "column": {
                        "name": "buddy_id",
                        "type": "bigint",
                        "unique": True,
                        "check": "buddy_id <> 0",
                        "references": {"table": "users", "columns": ["id"]},
                    },
                }
            }
        ],
        "ALTER TABLE users ADD COLUMN buddy_id bigint UNIQUE CHECK (buddy_id <> 0)"
        " REFERENCES users (id)",
        (
            _plain_users(
                new_insert={"buddy_id": 1, **NEW_USER},
                old_sees_new_insert={"buddy_id": 1},
                new_update=(3, {"buddy_id": 2}, {"buddy_id": 2}),
            ),
        ),
        extra=_buddy_constraints,
    ),
    Case(
        "create_index",
        [
            {"create_index": {"name": "users_name_idx", "table": "users", "columns": ["name"]}},
            {
                "create_index": {
                    "name": "users_active_code_idx",
                    "table": "users",
                    "columns": ["code"],
                    "unique": True,
                    "where": "active",
                }
            },
        ],
        "CREATE INDEX users_name_idx ON users (name);"
        "CREATE UNIQUE INDEX users_active_code_idx ON users (code) WHERE active",
        (_plain_users(),),
        extra=_index_valid("users_name_idx", True),
    ),
    Case(
        "drop_index",
        [{"drop_index": {"name": "users_email_idx"}}],
        "DROP INDEX users_email_idx",
        (_plain_users(),),
        extra=_index_valid("users_email_idx", True),
    ),
    Case(
        "create_table",
        [
            {
                "create_table": {
                    "table": "tags",
                    "columns": [
                        {"name": "id", "type": "bigint", "primary_key": True},
                        {
                            "name": "user_id",
                            "type": "bigint",
                            "references": {"table": "users", "columns": ["id"]},
                        },
                        {"name": "label", "type": "text", "nullable": False},
                        {"name": "weight", "type": "integer", "default": "1"},
                    ],
                }
            }
        ],
        "CREATE TABLE tags (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id),"
        " label text NOT NULL, weight integer DEFAULT 1)",
        (
            Crud(
                table="tags",
                old_insert={"user_id": 1, "label": "old"},
                new_sees_old_insert={"user_id": 1, "label": "old", "weight": 1},
                new_insert={"user_id": 2, "label": "new", "weight": 5},
                old_sees_new_insert={"label": "new", "weight": 5},
                old_update=(1002, {"label": "o"}, {"label": "o", "weight": 5}),
                new_update=(1001, {"weight": 9}, {"label": "old", "weight": 9}),
                deletes=(1001, 1002),
            ),
            _plain_users(),
        ),
    ),
    Case(
        "drop_table",
        [{"drop_table": {"table": "legacy"}}],
        "DROP TABLE legacy",
        (_plain_users(),),
        extra=_legacy_hidden,
    ),
    Case(
        "rename_table",
        [{"rename_table": {"from": "orders", "to": "purchases"}}],
        "ALTER TABLE orders RENAME TO purchases",
        (_plain_orders(new_table="purchases"),),
    ),
    Case(
        "rename_table_and_change_it",
        [
            {"rename_table": {"from": "orders", "to": "purchases"}},
            {"rename_column": {"table": "purchases", "from": "note", "to": "remark"}},
            {
                "add_column": {
                    "table": "purchases",
                    "column": {"name": "double", "type": "bigint"},
                    "up": "amount * 2",
                }
            },
        ],
        "ALTER TABLE orders RENAME TO purchases;"
        "ALTER TABLE purchases RENAME COLUMN note TO remark;"
        "ALTER TABLE purchases ADD COLUMN double bigint;"
        "UPDATE purchases SET double = amount * 2",
        (
            _plain_orders(
                new_table="purchases",
                existing={1: ({"note": "note 1"}, {"remark": "note 1", "double": 20})},
                new_sees_old_insert={"remark": "old", "double": 140},
                new_insert={"user_id": 8, "amount": 80, "remark": "new"},
                old_sees_new_insert={"note": "new"},
                old_update=(2, {"amount": 21}, {"double": 42}),
                new_update=(3, {"remark": "r3"}, {"note": "r3"}),
            ),
        ),
    ),
    Case(
        "create_check_constraint",
        [
            {
                "create_constraint": {
                    "table": "orders",
                    "name": "orders_amount_positive",
                    "type": "check",
                    "check": "amount >= 0",
                }
            }
        ],
        "ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount >= 0)",
        (_plain_orders(),),
        extra=_amount_checked,
    ),
    Case(
        "create_unique_constraint",
        [
            {
                "create_constraint": {
                    "table": "users",
                    "name": "users_code_key",
                    "type": "unique",
                    "columns": ["code"],
                }
            }
        ],
        "ALTER TABLE users ADD CONSTRAINT users_code_key UNIQUE (code)",
        (_plain_users(),),
        extra=_code_unique,
    ),
    Case(
        "create_foreign_key",
        [
            {
                "create_constraint": {
                    "table": "orders",
                    "name": "orders_user_id_fkey",
                    "type": "foreign_key",
                    "columns": ["user_id"],
                    "references": {"table": "users", "columns": ["id"], "on_delete": "cascade"},
                }
            }
        ],
        "ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id)"
        " REFERENCES users (id) ON DELETE CASCADE",
        (_plain_orders(),),
        extra=_user_fk,
    ),
    Case(
        "drop_constraint",
        [{"drop_constraint": {"table": "orders", "name": "orders_user_id_check"}}],
        "ALTER TABLE orders DROP CONSTRAINT orders_user_id_check",
        (_plain_orders(),),
        extra=_check_kept_until_contract,
    ),
    Case(
        "sql_with_down",
        [
            {
                "sql": {
                    "up": "CREATE INDEX users_lower_email_idx ON users (lower(email))",
                    "down": "DROP INDEX users_lower_email_idx",
                }
            }
        ],
        "CREATE INDEX users_lower_email_idx ON users (lower(email))",
        (_plain_users(),),
        extra=_lower_email_index,
    ),
    Case(
        "several_ops_two_tables",
        [
            {"rename_column": {"table": "users", "from": "name", "to": "full_name"}},
            {
                "add_column": {
                    "table": "users",
                    "column": {"name": "email_domain", "type": "text"},
                    "up": "split_part(email, '@', 2)",
                }
            },
            {"drop_column": {"table": "users", "column": "nickname"}},
            {"alter_column": {"table": "orders", "column": "amount", "type": "bigint"}},
            {
                "add_column": {
                    "table": "orders",
                    "column": {
                        "name": "currency",
                        "type": "text",
                        "nullable": False,
                        "default": "'EUR'",
                    },
                }
            },
            {
                "create_index": {
                    "name": "orders_user_idx",
                    "table": "orders",
                    "columns": ["user_id"],
                }
            },
        ],
        "ALTER TABLE users RENAME COLUMN name TO full_name;"
        "ALTER TABLE users ADD COLUMN email_domain text;"
        "UPDATE users SET email_domain = split_part(email, '@', 2);"
        "ALTER TABLE users DROP COLUMN nickname;"
        "ALTER TABLE orders ALTER COLUMN amount TYPE bigint;"
        "ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR';"
        "CREATE INDEX orders_user_idx ON orders (user_id)",
        (
            _plain_users(
                existing={
                    1: ({"name": "user1"}, {"full_name": "user1", "email_domain": "ex.com"}),
                },
                old_insert={"name": "olduser", "nickname": "nn", **USER},
                new_sees_old_insert={"full_name": "olduser", "email_domain": "old.org"},
                new_insert={"full_name": "newuser", "email_domain": "d", **NEW_USER},
                old_sees_new_insert={"name": "newuser", "nickname": None},
                old_update=(2, {"email": "a@b.c"}, {"email_domain": "b.c", "full_name": "user2"}),
                new_update=(3, {"full_name": "n3"}, {"name": "n3"}),
                new_hides=("name", "nickname"),
            ),
            _plain_orders(
                existing={1: ({"amount": 10}, {"amount": 10, "currency": "EUR"})},
                new_sees_old_insert={"currency": "EUR", **ORDER},
                new_insert={"user_id": 8, "amount": 80, "currency": "USD"},
            ),
        ),
    ),
]


def _setup(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(BASE)


def _apply_and_exercise(migrator: Migrator, case: Case) -> str:
    path = migrator.write(f"0001_{case.id}", case.ops)
    result = migrator.apply(path)
    vs = str(result["version_schema"])
    assert vs == f"public_0001_{case.id}"
    assert result["search_path"] == f"{vs},public"
    old, new = migrator.old(), migrator.new(vs)
    for crud in case.cruds:
        exercise(old, new, crud)
    if case.extra is not None:
        case.extra(old, new, vs)
    return vs


def _leftovers(url: str) -> list[str]:
    """zdmigrate objects still in the database: triggers, functions, columns, constraints."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(_LEFTOVERS).fetchall()
    return [r[0] for r in rows]


_LEFTOVERS = """
        SELECT 'trigger ' || tgname AS what FROM pg_trigger
         WHERE NOT tgisinternal AND tgname LIKE '\\_zdm\\_%'
        UNION ALL
        SELECT 'function ' || n.nspname || '.' || p.proname FROM pg_proc p
          JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'zdmigrate' OR p.proname LIKE '\\_zdm\\_%'
        UNION ALL
        SELECT 'column ' || a.attrelid::regclass || '.' || a.attname FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
           AND a.attnum > 0
           AND NOT a.attisdropped AND a.attname LIKE '\\_zdm\\_%'
        UNION ALL
        SELECT 'constraint ' || conname FROM pg_constraint WHERE conname LIKE '\\_zdm\\_%'
"""


def _same_rows(old: Conn, new: Conn, case: Case) -> None:
    for crud in case.cruds:
        assert _count(new, crud.new_table or crud.table) == _count(old, crud.table)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_operation(case: Case, migrator: Migrator, direct_database: Callable[[str], str]) -> None:
    """apply, both versions at work, rollback; apply again, complete."""
    name = f"0001_{case.id}"
    _setup(migrator.url)
    original = public_snapshot(migrator.url)
    vs = _apply_and_exercise(migrator, case)

    migrator.rollback(name)
    after_rollback = public_snapshot(migrator.url)
    assert diff(after_rollback, original) == []
    assert vs not in after_rollback["schemas"]
    assert _leftovers(migrator.url) == []

    # applied again after the rollback, with the rows both versions wrote meanwhile
    assert migrator.apply(migrator.folder / f"{name}.json")["version_schema"] == vs
    _same_rows(migrator.old(), migrator.new(vs), case)
    migrator.complete(name)

    direct_url = direct_database(BASE + ";\n" + case.direct)
    got, want = snapshot_of(migrator.url), snapshot_of(direct_url)
    assert diff(got["tables"], want["tables"]) == []
    assert got["views"] == want["views"] == {}
    assert got["functions"] == want["functions"]
    assert _leftovers(migrator.url) == []
    assert got["schemas"] == ["public", vs, "zdmigrate"]
    # after contract, the new version keeps working through its version schema
    old, new = migrator.old(), migrator.new(vs)
    for crud in case.cruds:
        table = crud.new_table or crud.table
        assert _count(new, table) == _count(old, table)


def test_complete_drops_the_predecessor_version_schema(migrator: Migrator) -> None:
    _setup(migrator.url)
    first = migrator.apply(
        migrator.write(
            "0001_first", [{"rename_column": {"table": "users", "from": "email", "to": "mail"}}]
        )
    )
    migrator.complete("0001_first")
    second = migrator.apply(
        migrator.write(
            "0002_second",
            [{"alter_column": {"table": "users", "column": "age", "type": "bigint"}}],
        )
    )
    # until the next migration completes, the old app may still use the first version
    v1_schema, v2_schema = first["version_schema"], second["version_schema"]
    assert v1_schema in snapshot_of(migrator.url)["schemas"]
    status = json.loads(migrator.run("status", "--format", "json").stdout)
    assert {s["name"]: s["search_path"] for s in status} == {
        "0001_first": f"{v1_schema},public",
        "0002_second": f"{v2_schema},public",
    }
    # the first version's app is the old app of the second migration
    v1, v2 = migrator.new(v1_schema), migrator.new(v2_schema)
    v1.execute("INSERT INTO users (id, mail, handle, age) VALUES (1001, 'v1@x', 'h', 41)")
    _expect(v2, "users", 1001, {"mail": "v1@x", "age": 41}, "second version")
    v2.execute("INSERT INTO users (id, mail, handle, age) VALUES (1002, 'v2@x', 'h', 42)")
    _expect(v1, "users", 1002, {"mail": "v2@x", "age": 42}, "first version")
    v1.execute("UPDATE users SET age = 51 WHERE id = 5")
    _expect(v2, "users", 5, {"age": 51}, "second version")
    v2.execute("UPDATE users SET age = 61 WHERE id = 6")
    _expect(v1, "users", 6, {"age": 61}, "first version")
    migrator.complete("0002_second")
    assert snapshot_of(migrator.url)["schemas"] == ["public", second["version_schema"], "zdmigrate"]
    assert _leftovers(migrator.url) == []
