"""The locks lint messages claim, checked in pg_locks on a real server."""

from __future__ import annotations

from typing import Any

import psycopg


def _modes(db: psycopg.Connection[Any], statement: str, table: str) -> set[str]:
    """The lock modes this session holds on ``table`` right after ``statement``."""
    with db.transaction(force_rollback=True):
        db.execute(statement)
        rows = db.execute(
            "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND relation = %s::regclass",
            (table,),
        ).fetchall()
    return {r[0] for r in rows}


def test_create_table_references_takes_share_row_exclusive(db: psycopg.Connection[Any]) -> None:
    db.execute("CREATE TABLE users (id bigint PRIMARY KEY)")
    sql = "CREATE TABLE badges (id bigint, user_id bigint REFERENCES users (id))"
    assert "ShareRowExclusiveLock" in _modes(db, sql, "users")


def test_domain_constraint_holds_share_on_tables_using_it(db: psycopg.Connection[Any]) -> None:
    db.execute("CREATE DOMAIN amount AS int")
    db.execute("CREATE TABLE orders (total amount)")
    db.execute("INSERT INTO orders VALUES (1)")
    sql = "ALTER DOMAIN amount ADD CONSTRAINT amount_positive CHECK (VALUE > 0)"
    assert "ShareLock" in _modes(db, sql, "orders")
    not_valid = "ALTER DOMAIN amount ADD CONSTRAINT amount_positive CHECK (VALUE > 0) NOT VALID"
    assert _modes(db, not_valid, "orders") == set()


def test_attach_partition_takes_access_exclusive_on_the_partition(
    db: psycopg.Connection[Any],
) -> None:
    db.execute("CREATE TABLE m (at int) PARTITION BY RANGE (at)")
    db.execute("CREATE TABLE m_1 (at int)")
    sql = "ALTER TABLE m ATTACH PARTITION m_1 FOR VALUES FROM (0) TO (10)"
    assert "AccessExclusiveLock" in _modes(db, sql, "m_1")
    assert "ShareUpdateExclusiveLock" in _modes(db, sql, "m")
