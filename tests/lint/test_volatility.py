"""The checked-in volatility list against the test server's own pg_proc."""

from __future__ import annotations

from typing import Any

import psycopg

from zdmigrate.lint.volatility import Volatility, builtin_volatility

_QUERY = """
SELECT p.proname, p.provolatile FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'pg_catalog'
"""


def test_every_builtin_function_of_the_server_is_listed(db: psycopg.Connection[Any]) -> None:
    from zdmigrate.lint.volatility import _table

    table = _table()
    missing = []
    for name, code in db.execute(_QUERY).fetchall():
        if code not in table.get(name, ""):
            missing.append(f"{name} ({code})")
    assert not missing, f"regenerate data/volatility.json; not listed: {missing[:10]}"


def test_the_facts_squawk_users_trip_on() -> None:
    assert builtin_volatility("now") is Volatility.STABLE
    assert builtin_volatility("statement_timestamp") is Volatility.STABLE
    assert builtin_volatility("lower") is Volatility.IMMUTABLE
    for name in ("random", "gen_random_uuid", "clock_timestamp", "nextval", "timeofday"):
        assert builtin_volatility(name) is Volatility.VOLATILE, name
    assert builtin_volatility("my_own_function") is Volatility.UNKNOWN
