"""The gate's `statements` source: pg_stat_statements over an observation window.

Needs a server that loads pg_stat_statements (shared_preload_libraries); .ci/run
sets it up on both servers. The migration widens `accounts.balance` and renames
`accounts.filler`: the old version's statements on either block, the new
version's (the same text, through its version schema) do not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cli_helpers import zdm
from tests.pgserver import Server

SETUP = """
CREATE TABLE accounts (id bigint PRIMARY KEY, balance integer, filler text, owner text);
CREATE TABLE history (id bigint PRIMARY KEY, filler text);
INSERT INTO accounts SELECT g, g, 'f', 'o' FROM generate_series(1, 50) g;
INSERT INTO history SELECT g, 'h' FROM generate_series(1, 50) g;
"""
MIGRATION = """
- alter_column: {table: accounts, column: balance, type: bigint}
- rename_column: {table: accounts, from: filler, to: note}
"""
WINDOW = ("--window", "1s")
pytestmark = pytest.mark.slow  # each test waits out observation windows
# PostgreSQL 18 computes the queryid from relation names: the old and the new version's
# statements share one, so the gate cannot tell them apart there and counts them
ORIGIN = {
    False: "the old version's (its queryid resolves to the tables)",
    True: "could not be told apart from the new version's; counted as the old one's",
}


@pytest.fixture
def migrated(db_url: str, db: psycopg.Connection[Any], tmp_path: Path) -> Iterator[str]:
    """A database with pg_stat_statements and the migration applied."""
    try:
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        # start from an empty store: the entries of every test database before this one
        # (dropped, but kept until evicted) fill it up, and an entry evicted during a
        # window makes the source 'unavailable' (right for the gate, wrong for this test)
        db.execute("SELECT pg_stat_statements_reset()")
    except psycopg.Error as exc:
        pytest.fail(
            f"pg_stat_statements is not loaded on the test server ({exc}); set "
            "shared_preload_libraries = 'pg_stat_statements' (.ci/run does)",
            pytrace=False,
        )
    db.execute(SETUP)
    path = tmp_path / "0001_accounts.yaml"
    path.write_text(MIGRATION)
    res = zdm("--database-url", db_url, "apply", str(path))
    assert res.exit_code == 0, res.stderr
    yield db_url


def _gate(url: str) -> tuple[int, dict[str, Any]]:
    res = zdm("--database-url", url, "gate", "0001_accounts", "-f", "json", *WINDOW)
    assert res.exit_code in (0, 1), res.stderr
    report = json.loads(res.stdout)
    return res.exit_code, next(s for s in report["sources"] if s["source"] == "statements")


def _old(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, application_name="old-app")


def _new(url: str) -> psycopg.Connection[Any]:
    """The new version: its version schema first on the search_path."""
    path = "-c search_path=public_0001_accounts,public"
    return psycopg.connect(url, autocommit=True, application_name="new-app", options=path)


def _after_window(url: str) -> None:
    """A first gate run stores the counters; a window later, the next one compares."""
    _gate(url)
    time.sleep(1.1)


def _queries(found: dict[str, Any]) -> list[str]:
    return [e["query"] for e in found["evidence"]]


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT filler FROM accounts WHERE id = 3",
        "SELECT * FROM accounts WHERE id = 3",
        "SELECT a.owner, a.balance FROM accounts a JOIN history h ON h.id = a.id WHERE a.id = 3",
        "INSERT INTO accounts VALUES (1000, 1, 'x', 'y')",
        "UPDATE accounts SET balance = balance + 1 WHERE id = 4",
    ],
)
def test_an_old_statement_blocks_until_a_window_passes_without_it(
    migrated: str, statement: str, pg_server: Server
) -> None:
    _after_window(migrated)
    with _old(migrated) as old:
        old.execute(statement)
    time.sleep(1.1)
    code, found = _gate(migrated)
    assert code == 1 and found["verdict"] == "found", found
    (evidence,) = found["evidence"]
    assert evidence["calls"] == 1
    # on 18 only a statement the new version could not run (it names filler) is told apart
    assert evidence["origin"] in (
        {ORIGIN[False], ORIGIN[True]} if pg_server.major >= 18 else {ORIGIN[False]}
    )
    assert evidence["query"].split()[0].upper() == statement.split()[0]
    time.sleep(1.1)  # a window with no old statement
    code, found = _gate(migrated)
    assert code == 0 and found["verdict"] == "clear", found
    res = zdm("--database-url", migrated, "complete", "0001_accounts", *WINDOW)
    assert res.exit_code == 0, res.stderr


def test_a_server_side_prepared_statement_blocks(migrated: str) -> None:
    _after_window(migrated)
    with _old(migrated) as old:
        old.execute("SELECT filler FROM accounts WHERE id = %s", (7,), prepare=True)
        old.execute("SELECT filler FROM accounts WHERE id = %s", (8,), prepare=True)
    time.sleep(1.1)
    code, found = _gate(migrated)
    assert code == 1
    assert any("filler" in q for q in _queries(found))


@pytest.mark.pg_max(17)
def test_the_new_version_running_the_same_text_does_not_block(migrated: str) -> None:
    _after_window(migrated)
    with _new(migrated) as new:
        new.execute("SELECT balance FROM accounts WHERE id = 3")
        new.execute("SELECT * FROM accounts WHERE id = 3")
    time.sleep(1.1)
    code, found = _gate(migrated)
    assert code == 0 and found["verdict"] == "clear", found


@pytest.mark.pg_min(18)
def test_on_postgresql_18_the_new_versions_statement_blocks_as_undecidable(migrated: str) -> None:
    """The same text through the version schema has the old version's queryid there."""
    _after_window(migrated)
    with _new(migrated) as new:
        new.execute("SELECT balance FROM accounts WHERE id = 3")
    time.sleep(1.1)
    code, found = _gate(migrated)
    assert code == 1
    (evidence,) = found["evidence"]
    assert evidence["origin"] == ORIGIN[True]


def test_a_same_named_column_of_another_table_does_not_block(migrated: str) -> None:
    _after_window(migrated)
    with _old(migrated) as old:
        old.execute("SELECT filler FROM history WHERE id = 3")
        old.execute("SELECT owner FROM accounts WHERE id = 3")
    time.sleep(1.1)
    code, found = _gate(migrated)
    assert code == 0 and found["verdict"] == "clear", found


def test_without_pg_stat_statements_the_source_is_unavailable_and_blocks(
    db_url: str, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    db.execute(SETUP)
    path = tmp_path / "0001_accounts.yaml"
    path.write_text(MIGRATION)
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0
    strict = {"ZDMIGRATE_GATE_ALLOW_UNAVAILABLE": ""}
    res = zdm("--database-url", db_url, "gate", "0001_accounts", "-f", "json", env=strict)
    assert res.exit_code == 1
    (found,) = [s for s in json.loads(res.stdout)["sources"] if s["source"] == "statements"]
    assert found["verdict"] == "unavailable"
    assert "CREATE EXTENSION pg_stat_statements" in found["reason"]
    res = zdm("--database-url", db_url, "complete", "0001_accounts", env=strict)
    assert res.exit_code == 1 and "statements: unavailable" in res.stderr


@pytest.mark.pg_max(17)
def test_an_insert_without_a_column_list_blocks_even_from_the_new_version(migrated: str) -> None:
    """Contract moves the widened column to the end of the table: such an INSERT breaks."""
    _after_window(migrated)
    with _new(migrated) as new:
        new.execute("INSERT INTO accounts VALUES (2000, 1, 'x', 'y')")
    time.sleep(1.1)
    code, found = _gate(migrated)
    assert code == 1
    assert any("INSERT" in q for q in _queries(found))
