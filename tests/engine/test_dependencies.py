"""A type change keeps what depends on the column, or refuses what it cannot keep."""

from __future__ import annotations

from typing import Any

from tests.engine.conftest import Migrator, public_snapshot


def _setup(m: Migrator) -> None:
    with m.owner() as conn:
        conn.execute(
            "CREATE TABLE users (id bigint PRIMARY KEY, total int GENERATED ALWAYS AS (1) STORED)"
        )
        conn.execute(
            "CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL "
            "REFERENCES users (id) ON DELETE CASCADE)"
        )
        conn.execute("INSERT INTO users (id) SELECT g FROM generate_series(1, 50) g")
        conn.execute("INSERT INTO orders SELECT g, g FROM generate_series(1, 50) g")


def test_foreign_key_moves_to_the_new_column(migrator: Migrator) -> None:
    _setup(migrator)
    path = migrator.write(
        "0001_user_id_bigint",
        [{"alter_column": {"table": "orders", "column": "user_id", "type": "bigint"}}],
    )
    result = migrator.apply(path)
    with migrator.new(result["version_schema"]) as new:
        failed: Any = None
        try:
            new.execute("INSERT INTO orders VALUES (100, 999)")
        except Exception as exc:  # the new column's foreign key holds already
            failed = exc
        assert failed is not None and "foreign key" in str(failed)
    migrator.complete("0001_user_id_bigint")
    with migrator.old() as conn:
        rows = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
            "WHERE conrelid = 'orders'::regclass AND contype = 'f'"
        ).fetchall()
        col = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' "
            "AND column_name = 'user_id'"
        ).fetchone()
    assert rows == [
        {
            "conname": "orders_user_id_fkey",
            "def": "FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
        }
    ]
    assert col == {"data_type": "bigint"}


def test_a_column_other_tables_reference_is_refused(migrator: Migrator) -> None:
    _setup(migrator)
    before = public_snapshot(migrator.url)
    path = migrator.write(
        "0001_users_id",
        [{"alter_column": {"table": "users", "column": "id", "name": "user_id"}}],
    )
    assert migrator.run("apply", str(path)).exit_code == 0
    migrator.rollback("0001_users_id")
    path = migrator.write(
        "0002_users_total",
        [{"alter_column": {"table": "users", "column": "total", "type": "bigint"}}],
    )
    res = migrator.run("apply", str(path))
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines()[-1] == (
        "error: 0002_users_total: operation 1 (alter_column): column 'total' is a generated "
        "column (hint: drop it and add a new one with the new expression instead)"
    )
    assert public_snapshot(migrator.url) == before


def test_a_referenced_column_cannot_change_type(migrator: Migrator) -> None:
    with migrator.owner() as conn:
        conn.execute("CREATE TABLE codes (code int PRIMARY KEY, id serial UNIQUE)")
        conn.execute("CREATE TABLE uses (id int PRIMARY KEY, code_id int REFERENCES codes (id))")
    before = public_snapshot(migrator.url)
    path = migrator.write(
        "0001_codes_id", [{"alter_column": {"table": "codes", "column": "id", "type": "bigint"}}]
    )
    res = migrator.run("apply", str(path))
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines()[-1] == (
        "error: 0001_codes_id: operation 1 (alter_column): column 'codes.id' is referenced by "
        "foreign key 'uses_code_id_fkey' of table 'uses' (hint: drop that foreign key first "
        "(drop_constraint), then add it back)"
    )
    assert public_snapshot(migrator.url) == before
