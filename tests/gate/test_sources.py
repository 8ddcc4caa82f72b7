"""The gate's writes and sessions sources, and its policy, as production runs: the
migration role is not a superuser, the app connects as a role of its own, the
tables live in schema ``ledger``."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.cli_helpers import zdm
from tests.conftest import drop_login_roles, login_role
from tests.pgserver import Server

CREATE = """
- create_table:
    table: accounts
    columns:
      - {name: id, type: bigint, primary_key: true}
      - {name: balance, type: integer}
      - {name: note, type: text}
"""
CHANGE = """
- alter_column: {table: accounts, column: balance, type: bigint}
- drop_column: {table: accounts, column: note}
"""
VSCHEMA = "ledger_0002_wide"


class Setup:
    def __init__(self, migrator_url: str, app_url: str, config: Path) -> None:
        self.migrator_url = migrator_url
        self.app_url = app_url
        self.config = config

    def zdm(self, *args: str) -> Any:
        return zdm("--database-url", self.migrator_url, "--config", str(self.config), *args)

    def gate(self, *args: str) -> tuple[int, dict[str, Any]]:
        res = self.zdm("gate", "0002_wide", "--format", "json", *args)
        assert res.exit_code in (0, 1), res.stderr
        return res.exit_code, json.loads(res.stdout)

    def app(self, name: str, version_schema: bool = False) -> psycopg.Connection[Any]:
        options = f"-c search_path={VSCHEMA},ledger" if version_schema else "-c search_path=ledger"
        return psycopg.connect(
            self.app_url, autocommit=True, application_name=name, options=options
        )

    def columns(self) -> list[str]:
        with psycopg.connect(self.migrator_url) as conn:
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "'ledger' AND table_name = 'accounts' ORDER BY ordinal_position"
            ).fetchall()
        return [r[0] for r in rows]


@pytest.fixture
def setup(migrator_url: str, pg_server: Server, tmp_path: Path) -> Iterator[Setup]:
    """0002_wide applied; an app role that may use schema ledger and the version schema."""
    app = f"zdm_app_{uuid.uuid4().hex[:8]}"
    migrator = psycopg.conninfo.conninfo_to_dict(migrator_url)["user"]
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.zdmigrate]\nschema = "ledger"\n')
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ledger")
    grant = sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(migrator))
    login_role(pg_server.admin_url, app, grant.as_string())
    s = Setup(migrator_url, psycopg.conninfo.make_conninfo(migrator_url, user=app), config)
    first, second = tmp_path / "0001_accounts.yaml", tmp_path / "0002_wide.yaml"
    first.write_text(CREATE)
    second.write_text(CHANGE)
    assert s.zdm("apply", str(first)).exit_code == 0
    assert s.zdm("complete", "0001_accounts").exit_code == 0
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute("INSERT INTO ledger.accounts SELECT g, g, 'n' FROM generate_series(1, 50) g")
        role = sql.Identifier(app)
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA ledger TO {}").format(role))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON ledger.accounts TO {}").format(role))
    res = s.zdm("apply", str(second))
    assert res.exit_code == 0, res.stderr
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(VSCHEMA), role)
        )
        conn.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {} TO {}").format(
                sql.Identifier(VSCHEMA), role
            )
        )
    try:
        yield s
    finally:
        drop_login_roles(pg_server.admin_url, _dbname(migrator_url), app)


def _source(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["sources"] if s["source"] == name)


class Writer(threading.Thread):
    """An app that updates a row every 20 ms on its own connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        super().__init__(daemon=True)
        self.conn = conn
        self.halt = threading.Event()
        self.writes = 0

    def run(self) -> None:
        while not self.halt.is_set():
            self.conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 7")
            self.writes += 1
            time.sleep(0.02)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)
        self.conn.close()


def test_old_version_writes_block_and_the_new_versions_do_not(setup: Setup) -> None:
    """The app role writes through the dual-write trigger, which counts the old version's
    writes: the counter works for a role that is neither owner nor superuser."""
    new = Writer(setup.app("ledger-v2", version_schema=True))
    new.start()
    try:
        code, report = setup.gate("--window", "1s")
    finally:
        new.stop()
    assert new.writes > 10
    assert _source(report, "writes")["verdict"] == "clear", report
    assert code == 0, report

    old_conn = setup.app("ledger-v1")
    # the old version reconnects after the new version was deployed: only its writes tell
    old = Writer(old_conn)
    old.start()
    try:
        while old.writes < 3:  # the snapshot the last run stored is the window's start
            time.sleep(0.01)
        code, report = setup.gate("--window", "1s", "--ignore-application", "ledger-v1")
        res = setup.zdm(
            "complete", "0002_wide", "--window", "1s", "--ignore-application", "ledger-*"
        )
    finally:
        old.stop()
    assert code == 1 and report["verdict"] == "blocked"
    assert _source(report, "sessions")["verdict"] == "clear"  # ignored: the writes still show
    (found,) = _source(report, "writes")["evidence"]
    assert found["writes"] >= 3 and "old-version writes" in found["summary"]
    assert res.exit_code == 1 and "old-version writes" in res.stderr
    assert "note" in setup.columns()  # nothing was contracted
    # the old writer is gone: a window from now on sees no write
    assert setup.gate("--window", "1s", "--rebaseline")[0] == 0
    assert setup.zdm("complete", "0002_wide").exit_code == 0
    assert setup.columns() == ["id", "balance"]
    with psycopg.connect(setup.migrator_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE '\\_zdm\\_writes%%'"
        ).fetchone()
    assert left == (0,)  # contract dropped the counter


def test_a_session_declaring_its_version_is_judged_by_it(setup: Setup) -> None:
    """A pool opened before apply that says it is the new version does not block; one
    that says it is another version does, whenever it connected."""
    with setup.app("ledger version=0002_wide", version_schema=True):
        code, report = setup.gate()
    assert code == 0, report
    with setup.app("ledger version=0001_accounts", version_schema=True) as old:
        code, report = setup.gate()
        (found,) = _source(report, "sessions")["evidence"]
        assert found["pid"] == old.info.backend_pid
    assert code == 1
    assert "declares version 0001_accounts" in found["summary"]


def test_a_running_query_on_a_dropped_column_blocks(setup: Setup) -> None:
    conn = setup.app("ledger-report")
    ran = threading.Thread(
        target=lambda: conn.execute("SELECT note, pg_sleep(3) FROM accounts WHERE id = 1"),
        daemon=True,
    )
    ran.start()
    try:
        deadline = time.monotonic() + 5
        while True:
            code, report = setup.gate()
            if code == 1 or time.monotonic() > deadline:
                break
    finally:
        ran.join(timeout=10)
        conn.close()
    assert code == 1, report
    (found,) = _source(report, "sessions")["evidence"]
    assert "is running a query that reads accounts.note" in found["summary"]


def test_ignored_roles_and_rebaseline(setup: Setup, pg_server: Server) -> None:
    """A session that connected after apply is the new version's until --rebaseline says
    that from now on only sessions connected later are; a pooler's role is ignored."""
    with setup.app("ledger-v2", version_schema=True) as conn:
        assert setup.gate()[0] == 0
        code, report = setup.gate("--rebaseline")
        (found,) = _source(report, "sessions")["evidence"]
        assert code == 1 and found["pid"] == conn.info.backend_pid
        app_role = conn.info.user
        assert setup.gate("--ignore-role", app_role)[0] == 0
        assert setup.gate("--ignore-role", "zdm_app_*")[0] == 0


def test_sources_not_required_warn_and_code_can_be_required(setup: Setup) -> None:
    config = setup.config
    config.write_text(
        '[tool.zdmigrate]\nschema = "ledger"\n\n[tool.zdmigrate.gate]\n'
        'require = ["statements", "writes", "code"]\nwindow = "0s"\n'
    )
    with setup.app("ledger version=0001_accounts"):
        code, report = setup.gate()
        text = setup.zdm("gate", "0002_wide")
    assert _source(report, "sessions")["verdict"] == "found"
    assert not _source(report, "sessions")["blocks"]
    code_source = _source(report, "code")
    assert code_source["verdict"] == "unavailable" and code_source["blocks"]
    assert "--code" in code_source["reason"]
    assert code == 1 and report["verdict"] == "blocked"
    assert "sessions: found, does not block" in text.stdout


def test_a_bad_gate_setting_is_one_line(setup: Setup) -> None:
    setup.config.write_text(
        '[tool.zdmigrate]\nschema = "ledger"\n[tool.zdmigrate.gate]\nwindow = "soon"\n'
    )
    res = setup.zdm("gate", "0002_wide")
    assert res.exit_code == 2
    lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "window" in lines[0] and "soon" in lines[0], res.stderr


def _version_schema_exists(setup: Setup) -> bool:
    with psycopg.connect(setup.migrator_url) as conn:
        row = conn.execute("SELECT to_regnamespace(%s)", (VSCHEMA,)).fetchone()
    return row is not None and row[0] is not None


def test_rollback_refuses_while_the_new_version_is_connected(setup: Setup) -> None:
    """Rollback drops what the new version uses: a new-version session that declares
    itself, or that has the version schema's views open, blocks it unless --force."""
    with setup.app("ledger version=0002_wide", version_schema=True) as declared:
        res = setup.zdm("rollback", "0002_wide")
        assert res.exit_code == 1, res.stderr
        assert "cannot roll back '0002_wide'" in res.stderr
        assert f"session {declared.info.backend_pid}" in res.stderr
        assert "stop the new version's clients first" in res.stderr
    assert _version_schema_exists(setup)  # nothing changed
    with setup.app("ledger-v2", version_schema=True) as reading:
        reading.execute("BEGIN")
        reading.execute("SELECT balance FROM accounts WHERE id = 1")
        res = setup.zdm("rollback", "0002_wide", "--format", "json")
        assert res.exit_code == 1
        (found,) = _source(json.loads(res.stdout), "sessions")["evidence"]
        assert found["pid"] == reading.info.backend_pid
        assert "views open in a transaction" in found["summary"]
        reading.execute("ROLLBACK")
    with setup.app("ledger version=0002_wide", version_schema=True):
        forced = setup.zdm("rollback", "0002_wide", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert not _version_schema_exists(setup)
    with psycopg.connect(setup.migrator_url) as conn:
        audit = conn.execute(
            "SELECT command, status, detail->>'os_user' FROM zdmigrate.audit_log "
            "WHERE migration = '0002_wide' AND step = 'gate'"
        ).fetchall()
    assert len(audit) == 1 and audit[0][:2] == ("rollback", "forced") and audit[0][2]


def test_rollback_goes_ahead_when_only_the_old_version_is_connected(setup: Setup) -> None:
    with setup.app("ledger-v1") as old:
        old.execute("SELECT note FROM accounts WHERE id = 1")
        res = setup.zdm("rollback", "0002_wide")
    assert res.exit_code == 0, res.stderr
    assert setup.columns() == ["id", "balance", "note"]


def _dbname(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["dbname"]  # type: ignore[return-value]
