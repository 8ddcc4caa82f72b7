"""Converted migrations run: applied and completed on a real server by a role that
owns the tables and is not a superuser, in a schema other than public."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.cli_helpers import zdm
from zdmigrate.convert import convert

SCHEMA = """
CREATE SCHEMA shop;
CREATE TABLE shop.sessions (id bigint NOT NULL, token text);
CREATE TABLE shop.orders (id bigint PRIMARY KEY, amount_cents integer NOT NULL);
INSERT INTO shop.sessions SELECT g, 't' || g FROM generate_series(1, 500) g;
INSERT INTO shop.orders SELECT g, g * 100 FROM generate_series(1, 500) g;
"""

CHANGE = """\
ALTER TABLE shop.sessions ADD PRIMARY KEY (id);
ALTER TABLE shop.orders ALTER COLUMN amount_cents TYPE bigint USING amount_cents::bigint;
"""


def _run(url: str, *args: str) -> None:
    res = zdm("--database-url", url, *args)
    assert res.exit_code == 0, res.stderr + res.stdout


def test_converted_primary_key_and_type_change_apply_and_complete(
    migrator_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    migration = tmp_path / "0001_shop_keys.yaml"
    migration.write_text(convert(CHANGE, "sql", "change.sql").text)
    _run(migrator_url, "init")
    _run(migrator_url, "apply", str(migration))
    _run(migrator_url, "complete", "0001_shop_keys")
    with psycopg.connect(migrator_url) as conn:
        pk = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'shop.sessions'::regclass AND contype = 'p'"
        ).fetchall()
        assert pk == [("sessions_pkey", "PRIMARY KEY (id)")]
        kind = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = 'shop.orders'::regclass AND attname = 'amount_cents'"
        ).fetchone()
        assert kind == ("bigint",)
        total = conn.execute("SELECT count(*), sum(amount_cents) FROM shop.orders").fetchone()
        assert total == (500, sum(g * 100 for g in range(1, 501)))
