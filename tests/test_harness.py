"""The harness gives each test its own empty database on a real server."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.pgserver import Server


def test_each_test_gets_an_empty_database(db: psycopg.Connection[Any]) -> None:
    tables = db.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
    ).fetchone()
    assert tables == (0,)
    db.execute("CREATE TABLE t (id int)")


def test_databases_are_not_shared(db: psycopg.Connection[Any]) -> None:
    assert db.execute("SELECT to_regclass('t')").fetchone() == (None,)


@pytest.mark.pg_min(99)
def test_version_marker_skips_on_older_servers(pg_server: Server) -> None:
    pytest.fail("pg_min(99) must have skipped this test")


def test_server_is_a_supported_version(pg_server: Server) -> None:
    assert pg_server.major >= 12


def test_ci_runs_on_the_expected_server_version(pg_server: Server) -> None:
    """.ci/run sets ZDMIGRATE_EXPECT_MAJOR so a run on the wrong server fails loudly."""
    import os

    expected = os.environ.get("ZDMIGRATE_EXPECT_MAJOR")
    if expected:
        assert pg_server.major == int(expected)
