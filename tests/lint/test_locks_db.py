"""The locks lint messages claim, checked in pg_locks on a real server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from tests.lint.helpers import lint, write


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


def _attach_scans(db: psycopg.Connection[Any], partition: str, bound: str) -> bool:
    """Whether ATTACH PARTITION scanned the partition (PostgreSQL says at DEBUG1 when the
    partition's constraints spare it the scan)."""
    notices: list[str] = []
    db.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    key = "RANGE (at)" if "FROM" in bound else "LIST (region)"
    db.execute("DROP TABLE IF EXISTS p, p_1")
    db.execute(f"CREATE TABLE p (at date, region text) PARTITION BY {key}")
    db.execute(f"CREATE TABLE p_1 (at date, region text, {partition})")
    db.execute("SET client_min_messages = debug1")
    db.execute(f"ALTER TABLE p ATTACH PARTITION p_1 FOR VALUES {bound}")
    db.execute("RESET client_min_messages")
    return not any("is implied by existing constraints" in n for n in notices)


def test_a_check_with_the_bound_and_not_null_spares_the_attach_scan(
    db: psycopg.Connection[Any],
) -> None:
    rng = "FROM ('2024-01-01') TO ('2025-01-01')"
    bound = "at >= '2024-01-01' AND at < '2025-01-01'"
    assert not _attach_scans(db, f"CHECK (at IS NOT NULL AND {bound})", rng)
    assert not _attach_scans(db, f"CHECK (at IS NOT NULL), CHECK ({bound})", rng)
    assert _attach_scans(db, f"CHECK ({bound})", rng)  # NULLs pass a CHECK, not the bound
    assert _attach_scans(db, "CHECK (at IS NOT NULL AND at >= '2023-01-01')", rng)
    assert not _attach_scans(db, "CHECK (region IS NOT NULL AND region IN ('de'))", "IN ('de')")
    assert _attach_scans(db, "CHECK (region IN ('de'))", "IN ('de')")


def test_lint_reads_the_partition_checks_in_the_database(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE m (at date) PARTITION BY RANGE (at)")
    db.execute(
        "CREATE TABLE m_1 (at date NOT NULL CHECK (at >= '2024-01-01' AND at < '2025-01-01'))"
    )
    db.execute("CREATE TABLE m_2 (at date CHECK (at >= '2025-01-01' AND at < '2026-01-01'))")
    sql = (
        "SET lock_timeout = '1s';\n"
        "ALTER TABLE m ATTACH PARTITION m_1 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\n"
        "ALTER TABLE m ATTACH PARTITION m_2 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');\n"
    )
    path = write(tmp_path, "m.sql", sql)
    res = lint("--database-url", db_url, path, "--format", "json")
    found = [(f["rule"], f["line"]) for f in json.loads(res.stdout)["findings"]]
    assert found == [("attach-partition-without-check", 3)]
