"""``zdmigrate.psycopg``: a psycopg connection, a psycopg_pool pool, a transaction (for a
transaction pooler) and startup options, each on the new version during a rename and a
type change, beside the old version writing through the table."""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

import zdmigrate.psycopg
from tests.app_versions import NAME, SCHEMA, InFlight, in_flight, physical
from zdmigrate import commands

__all__ = ["in_flight"]


def test_connection_and_old_version_side_by_side(in_flight: InFlight) -> None:
    with psycopg.connect(in_flight.app_url) as new, psycopg.connect(in_flight.app_url) as old:
        zdmigrate.psycopg.use_version(new, NAME, schema=SCHEMA)
        new.execute("UPDATE users SET email_address = 'n1@x.org', score = 10 WHERE id = 1")
        new.execute("INSERT INTO users (id, email_address, score) VALUES (201, 'n@x.org', 3)")
        new.commit()
        old.execute("UPDATE shop.users SET email = 'o2@x.org', score = 20 WHERE id = 2")
        old.commit()
        row = new.execute("SELECT email_address, score FROM users WHERE id = 2").fetchone()
        assert row == ("o2@x.org", 20)
        assert old.execute("SELECT email FROM shop.users WHERE id = 201").fetchone() == ("n@x.org",)
        new.rollback()  # a rolled-back transaction keeps the session on the version
        assert new.execute("SELECT current_setting('zdmigrate.version')").fetchone() == (NAME,)
    assert physical(in_flight.migrator_url, 1) == ("n1@x.org", 10, 10)
    assert physical(in_flight.migrator_url, 2) == ("o2@x.org", 20, 20)
    assert commands.verify(in_flight.settings, NAME).ok


def test_pool_configure(in_flight: InFlight) -> None:
    configure = zdmigrate.psycopg.configure(NAME, schema=SCHEMA)
    with ConnectionPool(in_flight.app_url, min_size=2, max_size=2, configure=configure) as pool:
        for key in (6, 7):
            with pool.connection() as conn:
                conn.execute("UPDATE users SET score = score * 100 WHERE id = %s", (key,))
                app = conn.execute("SHOW application_name").fetchone()
        assert app is not None and app[0].endswith(f"version={NAME}")
    assert physical(in_flight.migrator_url, 6) == ("u6@x.org", 600, 600)
    assert physical(in_flight.migrator_url, 7) == ("u7@x.org", 700, 700)


def test_transaction_for_a_transaction_pooler(in_flight: InFlight) -> None:
    with psycopg.connect(in_flight.app_url, autocommit=True) as conn:
        with zdmigrate.psycopg.transaction(conn, NAME, schema=SCHEMA):
            conn.execute("UPDATE users SET score = 88 WHERE email_address = 'u8@x.org'")
        # nothing is left on the session for the next client of a pooler
        after = conn.execute("SELECT current_setting('zdmigrate.version', true)").fetchone()
        assert after == ("",)
    assert physical(in_flight.migrator_url, 8) == ("u8@x.org", 88, 88)


def test_startup_options(in_flight: InFlight) -> None:
    options = zdmigrate.psycopg.options(NAME, schema=SCHEMA)
    assert (
        options == f"-c search_path=shop_0003_users_email_address,shop -c zdmigrate.version={NAME}"
    )
    with psycopg.connect(in_flight.app_url, options=options) as conn:
        assert conn.execute("SELECT email_address FROM users WHERE id = 9").fetchone() == (
            "u9@x.org",
        )
