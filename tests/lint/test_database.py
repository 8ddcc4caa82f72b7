"""With --database-url: sizes grade severity, catalogs rule out false positives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from tests.lint.helpers import lint, write


def _run(db_url: str, tmp_path: Path, sql: str, *args: str) -> list[dict[str, Any]]:
    path = write(tmp_path, "m.sql", "SET lock_timeout = '1s';\n" + sql)
    res = lint("--database-url", db_url, path, "--format", "json", *args)
    assert res.exit_code in (0, 1), res.stderr
    findings: list[dict[str, Any]] = json.loads(res.stdout)["findings"]
    return findings


def test_empty_table_is_only_info(db: psycopg.Connection[Any], db_url: str, tmp_path: Path) -> None:
    db.execute("CREATE TABLE orders (id bigint, x int)")
    (finding,) = _run(db_url, tmp_path, "CREATE INDEX i ON orders (x);\n")
    assert finding["severity"] == "info"
    assert "the table is empty" in finding["message"]
    res = lint("--database-url", db_url, str(tmp_path / "m.sql"))
    assert res.exit_code == 0


def test_size_in_message(db: psycopg.Connection[Any], db_url: str, tmp_path: Path) -> None:
    db.execute("CREATE TABLE orders AS SELECT g AS id, g AS x FROM generate_series(1, 5000) g")
    db.execute("ANALYZE orders")
    (finding,) = _run(db_url, tmp_path, "CREATE INDEX i ON orders (x);\n")
    assert finding["severity"] == "warning"
    assert "~5,000 rows" in finding["message"]
    assert "under 1 s per full scan or rewrite" in finding["message"]


def test_binary_coercible_type_change_is_not_reported(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path
) -> None:
    db.execute(
        "CREATE TABLE t (a varchar(50), b int, c numeric(10,2), d varchar(50), e cidr,"
        " f int, g timestamp(0))"
    )
    db.execute("INSERT INTO t VALUES ('x', 1, 1, 'y', '10.0.0.1/32', 2, now())")
    sql = (
        "ALTER TABLE t ALTER COLUMN a TYPE text;\n"
        "ALTER TABLE t ALTER COLUMN c TYPE numeric(14,2);\n"
        "ALTER TABLE t ALTER COLUMN d TYPE varchar(100);\n"
        "ALTER TABLE t ALTER COLUMN b TYPE bigint;\n"
        "ALTER TABLE t ALTER COLUMN d TYPE varchar(10);\n"
        "ALTER TABLE t ALTER COLUMN e TYPE inet;\n"
        "ALTER TABLE t ALTER COLUMN f TYPE int8;\n"
        "ALTER TABLE t ALTER COLUMN g TYPE timestamp(3);\n"
    )
    found = _run(db_url, tmp_path, sql, "--select", "change-column-type")
    # d was varchar(50) in the database: line 6 narrows it (the file's line 4 is not run)
    assert [(f["rule"], f["line"], f["severity"]) for f in found] == [
        ("change-column-type", 5, "error"),
        ("change-column-type", 6, "error"),
        ("change-column-type", 7, "warning"),
        ("change-column-type", 8, "error"),
    ]  # and g, timestamp(0) to timestamp(3), needs no rewrite
    assert "from cidr to inet needs no rewrite" in found[2]["message"]
    assert "from int4 to int8 rewrites" in found[3]["message"]


def test_validated_not_null_check_allows_set_not_null(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE users (email text, name text)")
    db.execute("INSERT INTO users VALUES ('a', 'b')")
    db.execute("ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL)")
    db.execute("ALTER TABLE users ADD CONSTRAINT name_nn CHECK (name IS NOT NULL) NOT VALID")
    sql = (
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
        "ALTER TABLE users ALTER COLUMN name SET NOT NULL;\n"
    )
    found = _run(db_url, tmp_path, sql, "--select", "set-not-null")
    assert [f["line"] for f in found if f["rule"] == "set-not-null"] == [3]


def test_user_function_volatility(db: psycopg.Connection[Any], db_url: str, tmp_path: Path) -> None:
    db.execute("CREATE TABLE t (id bigint)")
    db.execute("INSERT INTO t VALUES (1)")
    db.execute("CREATE FUNCTION next_code() RETURNS text VOLATILE LANGUAGE sql AS $$ SELECT 'x' $$")
    db.execute("CREATE FUNCTION app_name() RETURNS text STABLE LANGUAGE sql AS $$ SELECT 'x' $$")
    sql = (
        "ALTER TABLE t ADD COLUMN a text DEFAULT next_code();\n"
        "ALTER TABLE t ADD COLUMN b text DEFAULT app_name();\n"
    )
    found = _run(db_url, tmp_path, sql, "--select", "volatile-default")
    assert [(f["rule"], f["line"]) for f in found if f["rule"] == "volatile-default"] == [
        ("volatile-default", 2)
    ]


def test_partitioned_parent_gets_the_per_partition_recipe(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE m (at date, v int) PARTITION BY RANGE (at)")
    db.execute(
        "CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
    )
    db.execute("INSERT INTO m VALUES ('2024-02-01', 1)")
    (finding,) = _run(db_url, tmp_path, "CREATE INDEX m_v_idx ON m (v);\n")
    assert "ON ONLY" in finding["help"]
    assert finding["severity"] == "warning"


def test_unreachable_database_exit_2(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    res = lint("--database-url", url, write(tmp_path, "m.sql", "SELECT 1;\n"))
    assert res.exit_code == 2
    assert "cannot connect to the database for lint" in res.stderr


def test_a_table_in_the_database_is_not_new(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS accounts AS SELECT 1 AS id")
    sql = "CREATE TABLE IF NOT EXISTS accounts (id bigint);\nCREATE INDEX i ON accounts (id);\n"
    found = _run(db_url, tmp_path, sql, "--select", "create-index-not-concurrently")
    assert [f["rule"] for f in found] == ["create-index-not-concurrently"]
    res = lint(str(tmp_path / "m.sql"), "--format", "json")
    assert json.loads(res.stdout)["findings"] == []


def test_functions_not_built_in_are_volatile_unless_the_database_says_otherwise(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE t (id bigint)")
    db.execute("INSERT INTO t VALUES (1)")
    db.execute("CREATE SCHEMA app")
    db.execute("CREATE FUNCTION app.code() RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT 'x' $$")
    db.execute(
        "CREATE FUNCTION public.code() RETURNS text VOLATILE LANGUAGE sql AS $$ SELECT 'y' $$"
    )
    sql = (
        "ALTER TABLE t ADD COLUMN a text DEFAULT app.code();\n"
        "ALTER TABLE t ADD COLUMN b text DEFAULT public.code();\n"
        "ALTER TABLE t ADD COLUMN c text DEFAULT nowhere.code();\n"
    )
    found = _run(db_url, tmp_path, sql, "--select", "volatile-default")
    assert [f["line"] for f in found] == [3, 4]
    assert "(volatile public.code())" in found[0]["message"]
    assert "(nowhere.code(), not a built-in function, taken as volatile)" in found[1]["message"]
    offline = lint(str(tmp_path / "m.sql"), "--select", "volatile-default", "--format", "json")
    lines = [f["line"] for f in json.loads(offline.stdout)["findings"]]
    assert lines == [2, 3, 4]
