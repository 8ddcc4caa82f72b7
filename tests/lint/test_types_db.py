"""The type changes lint calls 'no rewrite' keep the table's and the index's files on a
real server (pg_class.relfilenode); those it reports as rewrites do not."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql

from zdmigrate.lint._types import TypeChange, compare, parse_type

NO_REWRITE = [
    ("text", "varchar"),
    ("varchar", "text"),
    ("varchar(10)", "varchar(20)"),
    ("varchar(10)", "varchar(10)"),
    ("varchar(10)", "character varying"),
    ("character varying(10)", "text"),
    ("numeric(10,2)", "numeric(12,2)"),
    ("numeric(10)", "numeric(12)"),
    ("numeric(10,2)", "numeric"),
    ("bit varying(5)", "bit varying(10)"),
    ("varbit(5)", "varbit"),
    ("timestamp(0)", "timestamp(3)"),
    ("timestamp(3)", "timestamp"),
    ("timestamptz(0)", "timestamp with time zone"),
    ("time(0)", "time"),
    ("timetz(0)", "timetz(6)"),
    ("interval(0)", "interval"),
    ("interval day", "interval"),
    ("cidr", "inet"),
]
REWRITE = [
    ("text", "varchar(10)"),
    ("varchar(20)", "varchar(10)"),
    ("numeric(10,2)", "numeric(12,3)"),
    ("numeric", "numeric(10,2)"),
    ("inet", "cidr"),
    ("bit(5)", "bit(10)"),
    ("char(5)", "char(10)"),
    ("char(5)", "text"),
    ("int", "bigint"),
    ("timestamp(3)", "timestamp(0)"),
    ("varchar(10)[]", "varchar(20)[]"),
    ("timestamp", "timestamptz"),  # the table is kept in UTC sessions, its index is not
]


def _files(db: psycopg.Connection[Any]) -> tuple[Any, ...]:
    row = db.execute("SELECT pg_relation_filenode('t'), pg_relation_filenode('t_c_idx')").fetchone()
    assert row is not None
    return tuple(row)


def _kept(db: psycopg.Connection[Any], old: str, new: str) -> bool:
    db.execute("DROP TABLE IF EXISTS t")
    db.execute(sql.SQL("CREATE TABLE t (c {})").format(sql.SQL(old)))
    db.execute("INSERT INTO t VALUES (NULL)")
    db.execute("CREATE INDEX t_c_idx ON t (c)")
    before = _files(db)
    db.execute(sql.SQL("ALTER TABLE t ALTER COLUMN c TYPE {}").format(sql.SQL(new)))
    return _files(db) == before


@pytest.mark.parametrize(("old", "new"), NO_REWRITE)
def test_no_rewrite_keeps_table_and_index(db: psycopg.Connection[Any], old: str, new: str) -> None:
    old_type, new_type = parse_type(old), parse_type(new)
    assert old_type is not None and new_type is not None
    assert compare(old_type, new_type)[0] is not TypeChange.REWRITE
    assert _kept(db, old, new)


@pytest.mark.parametrize(("old", "new"), REWRITE)
def test_rewrite_is_a_rewrite(db: psycopg.Connection[Any], old: str, new: str) -> None:
    old_type, new_type = parse_type(old), parse_type(new)
    assert old_type is not None and new_type is not None
    assert compare(old_type, new_type)[0] is TypeChange.REWRITE
    assert not _kept(db, old, new)
