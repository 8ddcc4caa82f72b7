"""One migration that changes tables of several schemas (``table: billing.invoices``).

As production runs: the migration role owns the tables and is not a superuser,
the app connects as a role of its own with table grants. ``billing`` and
``crm`` both hold a table ``accounts``. The migration gets one version schema
per schema it changes; the new app's search_path lists them all before the
schemas, and reaches the ``accounts`` of the second schema through its version
schema by name (``crm_0002_split.accounts``), since unqualified ``accounts``
is billing's, as it is for the old app.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.catalog import Snapshot, snapshot
from tests.cli_helpers import Project, zdm
from tests.conftest import drop_login_roles, login_role
from tests.engine.test_plan_is_what_runs import _bookkeeping, _log, _sent
from tests.pgserver import Server
from zdmigrate.plan.backfill import REPLICA_LAG_SQL

SPLIT = """\
operations:
  - rename_column: {table: billing.invoices, from: note, to: memo}
  - alter_column: {table: crm.customers, column: score, type: bigint}
  - alter_column: {table: billing.accounts, column: n, type: bigint}
  - alter_column: {table: crm.accounts, column: n, type: bigint, name: total}
"""
NAME = "0002_split"
BILLING_V, CRM_V = f"billing_{NAME}", f"crm_{NAME}"
NEW_PATH = f"{BILLING_V},{CRM_V},billing,crm"
OLD_PATH = "billing,crm"
SCHEMAS = ("billing", "crm", "public")


@dataclass
class Setup:
    migrator_url: str
    app: str
    folder: Path

    @property
    def path(self) -> Path:
        return self.folder / f"{NAME}.yaml"

    @property
    def project(self) -> Project:
        return Project(self.migrator_url, self.folder)

    def app_conn(self, search_path: str) -> psycopg.Connection[Any]:
        url = psycopg.conninfo.make_conninfo(self.migrator_url, user=self.app)
        return psycopg.connect(url, autocommit=True, options=f"-c search_path={search_path}")

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.migrator_url) as conn:
            return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        with psycopg.connect(self.migrator_url) as conn:
            return conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE "
                "table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (schema, table),
            ).fetchall()

    def catalog(self) -> dict[str, Snapshot]:
        """The catalog of each schema; zdmigrate's state schema left out."""
        with psycopg.connect(self.migrator_url) as conn:
            out = {s: snapshot(conn, s) for s in SCHEMAS}
        for snap in out.values():
            snap["schemas"] = [name for name in snap["schemas"] if name != "zdmigrate"]
        return out


@pytest.fixture
def setup(migrator_url: str, pg_server: Server, tmp_path: Path) -> Iterator[Setup]:
    s = Setup(migrator_url, f"zdm_app_{uuid.uuid4().hex[:8]}", tmp_path)
    login_role(pg_server.admin_url, s.app)
    (tmp_path / "pyproject.toml").write_text("[tool.zdmigrate]\n")
    s.path.write_text(SPLIT)
    app = sql.Identifier(s.app)
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA billing; CREATE SCHEMA crm")
        conn.execute("CREATE TABLE billing.invoices (id int PRIMARY KEY, note text)")
        conn.execute("CREATE TABLE crm.customers (id int PRIMARY KEY, score int)")
        for schema in ("billing", "crm"):
            conn.execute(f"CREATE TABLE {schema}.accounts (id int PRIMARY KEY, n int)")
            conn.execute(f"INSERT INTO {schema}.accounts SELECT g, g FROM generate_series(1, 5) g")
            conn.execute(
                sql.SQL(
                    "GRANT USAGE ON SCHEMA {s} TO {a}; "
                    "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {s} TO {a}"
                ).format(s=sql.Identifier(schema), a=app)
            )
        conn.execute("INSERT INTO billing.invoices SELECT g, 'n' || g FROM generate_series(1, 5) g")
        conn.execute("INSERT INTO crm.customers SELECT g, g * 10 FROM generate_series(1, 5) g")
        conn.execute(sql.SQL("GRANT INSERT, SELECT, UPDATE ON crm.customers TO {}").format(app))
    try:
        yield s
    finally:
        database = psycopg.conninfo.conninfo_to_dict(migrator_url)["dbname"]
        drop_login_roles(pg_server.admin_url, str(database), s.app)


def _write_both_versions(s: Setup) -> None:
    """The old and the new app write in both schemas, through their own names."""
    with s.app_conn(OLD_PATH) as old, s.app_conn(NEW_PATH) as new:
        new.execute("UPDATE invoices SET memo = 'new-1' WHERE id = 1")
        old.execute("UPDATE invoices SET note = 'old-2' WHERE id = 2")
        new.execute("INSERT INTO invoices (id, memo) VALUES (10, 'new-10')")
        old.execute("INSERT INTO invoices (id, note) VALUES (11, 'old-11')")
        new.execute("UPDATE customers SET score = 3000 WHERE id = 1")
        old.execute("UPDATE customers SET score = 22 WHERE id = 2")
        new.execute("INSERT INTO customers (id, score) VALUES (10, 100)")
        old.execute("INSERT INTO customers (id, score) VALUES (11, 110)")
        # unqualified ``accounts`` is billing's for both versions (billing comes first)
        new.execute("UPDATE accounts SET n = 4000 WHERE id = 1")
        old.execute("UPDATE accounts SET n = 12 WHERE id = 2")
        new.execute(f"UPDATE {CRM_V}.accounts SET total = 31 WHERE id = 3")
        old.execute("UPDATE crm.accounts SET n = 42 WHERE id = 4")
        assert new.execute(f"SELECT total FROM {CRM_V}.accounts WHERE id = 4").fetchone() == (42,)
        assert new.execute("SELECT memo FROM invoices WHERE id = 2").fetchone() == ("old-2",)
        assert old.execute("SELECT note FROM invoices WHERE id = 1").fetchone() == ("new-1",)
        assert old.execute("SELECT n FROM crm.accounts WHERE id = 3").fetchone() == (31,)


def test_one_migration_changes_tables_of_two_schemas_for_both_versions(setup: Setup) -> None:
    shown = json.loads(setup.project.ok("plan", str(setup.path), "--format", "json").stdout)
    assert shown["search_path"] == NEW_PATH
    assert shown["version_schemas"] == [BILLING_V, CRM_V]
    applied = setup.project.ok("apply", str(setup.path), "--format", "json")
    result = json.loads(applied.stdout)
    assert result["search_path"] == NEW_PATH
    assert result["version_schemas"] == [BILLING_V, CRM_V]
    status = json.loads(setup.project.ok("status", "--format", "json").stdout)
    assert [m["search_path"] for m in status] == [NEW_PATH]

    _write_both_versions(setup)
    verify = setup.project.zdm("verify", NAME, "--format", "json")
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    setup.project.ok("complete", NAME)

    assert setup.columns("billing", "invoices") == [("id", "integer"), ("memo", "text")]
    assert setup.columns("crm", "customers") == [("id", "integer"), ("score", "bigint")]
    assert setup.columns("billing", "accounts") == [("id", "integer"), ("n", "bigint")]
    assert setup.columns("crm", "accounts") == [("id", "integer"), ("total", "bigint")]
    assert setup.rows("billing.invoices")[:2] == [(1, "new-1"), (2, "old-2")]
    assert setup.rows("billing.invoices")[-2:] == [(10, "new-10"), (11, "old-11")]
    assert setup.rows("crm.customers")[:2] == [(1, 3000), (2, 22)]
    assert setup.rows("crm.customers")[-2:] == [(10, 100), (11, 110)]
    assert setup.rows("billing.accounts") == [(1, 4000), (2, 12), (3, 3), (4, 4), (5, 5)]
    assert setup.rows("crm.accounts") == [(1, 1), (2, 2), (3, 31), (4, 42), (5, 5)]
    with psycopg.connect(setup.migrator_url) as conn:
        triggers = conn.execute("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal")
        assert triggers.fetchone() == (0,)
    # the new app goes on through its version schemas (a later migration's complete
    # drops them); the app role keeps its privileges on the final tables
    with setup.app_conn(NEW_PATH) as new, setup.app_conn(OLD_PATH) as plain:
        new.execute(f"UPDATE {CRM_V}.accounts SET total = 1 WHERE id = 1")
        assert new.execute("SELECT memo, n FROM invoices JOIN accounts USING (id) WHERE id = 2")
        plain.execute("UPDATE crm.accounts SET total = 2 WHERE id = 2")
        plain.execute("UPDATE invoices SET memo = 'x' WHERE id = 3")
    assert setup.rows("crm.accounts")[:2] == [(1, 1), (2, 2)]


def test_rollback_restores_both_schemas(setup: Setup) -> None:
    before = setup.catalog()
    setup.project.ok("apply", str(setup.path))
    with setup.app_conn(NEW_PATH) as new:
        new.execute("UPDATE invoices SET memo = 'new-1' WHERE id = 1")
        new.execute("UPDATE customers SET score = 77 WHERE id = 1")
        new.execute(f"UPDATE {CRM_V}.accounts SET total = 31 WHERE id = 3")
    setup.project.ok("rollback", NAME)
    assert setup.catalog() == before
    assert setup.rows("billing.invoices")[0] == (1, "new-1")
    assert setup.rows("crm.customers")[0] == (1, 77)
    assert setup.rows("crm.accounts")[2] == (3, 31)


def test_the_plan_of_two_schemas_is_what_runs(setup: Setup, tmp_path: Path) -> None:
    planned = setup.project.ok("plan", str(setup.path), "--format", "json")
    phases = json.loads(planned.stdout)["phases"]
    keys = [s["key"] for s in phases["expand"]]
    assert "expand:version-schema@billing" in keys and "expand:version-schema@crm" in keys
    apply_log, complete_log = tmp_path / "apply.log", tmp_path / "complete.log"
    config = str(setup.folder / "pyproject.toml")
    for log, args in ((apply_log, ("apply", str(setup.path))), (complete_log, ("complete", NAME))):
        res = zdm(
            "--database-url",
            setup.migrator_url,
            "--config",
            config,
            *args,
            env={"ZDMIGRATE_SQL_LOG": str(log)},
        )
        assert res.exit_code == 0, res.stderr
    expected = [s["sql"] for s in phases["check"]]
    expected += [q for s in (*phases["expand"], *phases["validate"]) for q in _sent(s)]
    # the backfill's pacing reads replica lag on the main connection between batches: a
    # statement of the backfill's listing, not of a phase
    listed = {st["sql"] for b in phases["backfill"] for st in b["statements"]}
    assert REPLICA_LAG_SQL in listed
    sent = [q for q in _log(apply_log, "zdmigrate") if not _bookkeeping(q)]
    assert REPLICA_LAG_SQL in sent
    assert [q for q in sent if q != REPLICA_LAG_SQL] == expected
    contract = [q for s in phases["contract"] for q in _sent(s)]
    assert [q for q in _log(complete_log, "zdmigrate") if not _bookkeeping(q)] == contract
    backfill = _log(apply_log, "zdmigrate-backfill")
    assert backfill and set(backfill) <= listed


def test_a_qualified_name_of_a_missing_schema_is_one_line(setup: Setup) -> None:
    setup.path.write_text(
        SPLIT + "  - add_column: {table: sales.orders, column: {name: x, type: int}}\n"
    )
    before = setup.catalog()
    for command in ("plan", "apply"):
        res = setup.project.zdm(command, str(setup.path))
        assert res.exit_code == 2, res.stdout
        (line,) = res.stderr.strip().splitlines()
        assert f"{setup.path}: schema 'sales' does not exist in the database" in line
        assert "hint:" in line
    assert setup.catalog() == before


def test_a_later_migration_of_one_schema_drops_only_that_schemas_version(setup: Setup) -> None:
    setup.project.ok("apply", str(setup.path))
    setup.project.ok("complete", NAME)
    later = setup.folder / "0003_crm_note.yaml"
    later.write_text("- add_column: {table: crm.customers, column: {name: note, type: text}}\n")
    setup.project.ok("apply", str(later))
    setup.project.ok("complete", "0003_crm_note")
    schemas = setup.catalog()["public"]["schemas"]
    assert CRM_V not in schemas  # the crm version of 0002 is gone with 0003's contract
    assert BILLING_V in schemas  # billing's stays: no later migration there yet
    status = {
        m["name"]: m for m in json.loads(setup.project.ok("status", "--format", "json").stdout)
    }
    assert status[NAME]["version_schemas"] == [BILLING_V]


def test_planning_offline_replays_each_schema_of_a_migration(tmp_path: Path) -> None:
    (tmp_path / "0001_tables.yaml").write_text(
        "- create_table: {table: billing.accounts, columns: "
        "[{name: id, type: int, primary_key: true}, {name: n, type: int}]}\n"
        "- create_table: {table: crm.accounts, columns: "
        "[{name: id, type: int, primary_key: true}, {name: total, type: int}]}\n"
    )
    path = tmp_path / "0002_widen.yaml"
    path.write_text(
        "- alter_column: {table: billing.accounts, column: n, type: bigint}\n"
        "- alter_column: {table: crm.accounts, column: total, type: bigint}\n"
    )
    res = zdm("plan", str(path), "--format", "json")
    assert res.exit_code == 0, res.stderr
    plan = json.loads(res.stdout)
    assert plan["search_path"] == "billing_0002_widen,crm_0002_widen,billing,crm"
    bad = tmp_path / "0003_bad.yaml"
    bad.write_text(
        "- alter_column: {table: billing.accounts, column: n, type: numeric}\n"
        "- alter_column: {table: crm.accounts, column: n, type: numeric}\n"
    )
    res = zdm("plan", str(bad))
    assert res.exit_code == 2
    # the error names the operation by its number in the file, not in its schema's part
    assert "operation 2 (alter_column): column 'n' does not exist in table 'accounts'" in (
        res.stderr
    )


class _Writer(threading.Thread):
    """An app writing ``statement`` every 20 ms on its own connection."""

    def __init__(self, conn: psycopg.Connection[Any], statement: str) -> None:
        super().__init__(daemon=True)
        self.conn, self.statement = conn, statement
        self.halt = threading.Event()
        self.writes = 0

    def run(self) -> None:
        while not self.halt.is_set():
            self.conn.execute(self.statement)
            self.writes += 1
            time.sleep(0.02)

    def __enter__(self) -> _Writer:
        self.start()
        while self.writes < 3:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.halt.set()
        self.join(timeout=10)
        self.conn.close()


def test_the_gate_counts_old_writes_in_every_schema(setup: Setup) -> None:
    setup.project.ok("apply", str(setup.path))
    new = setup.app_conn(NEW_PATH)
    with _Writer(new, f"UPDATE {CRM_V}.accounts SET total = total + 1 WHERE id = 1"):
        res = setup.project.zdm("gate", NAME, "--window", "1s", "--format", "json")
    assert res.exit_code == 0, res.stdout
    # an old writer of the second schema's table only, its session ignored by name:
    # the write counters of every schema are read
    url = psycopg.conninfo.make_conninfo(setup.migrator_url, user=setup.app)
    old = psycopg.connect(url, autocommit=True, application_name="old-app")
    with _Writer(old, "UPDATE crm.customers SET score = score + 1 WHERE id = 2"):
        res = setup.project.zdm(
            "gate", NAME, "--window", "1s", "--ignore-application", "old-*", "--format", "json"
        )
    assert res.exit_code == 1, res.stdout
    report = json.loads(res.stdout)
    (writes,) = [s for s in report["sources"] if s["source"] == "writes"]
    assert writes["verdict"] == "found" and writes["evidence"][0]["writes"] >= 3


def test_two_schemas_whose_version_schemas_would_share_a_name_are_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "0001_tables.yaml").write_text(
        '- create_table: {table: "Crm.a", columns: [{name: id, type: int, primary_key: true}]}\n'
        "- create_table: {table: crm.a, columns: [{name: id, type: int, primary_key: true}]}\n"
    )
    path = tmp_path / "0002_x.yaml"
    path.write_text(
        '- add_column: {table: "Crm.a", column: {name: x, type: int}}\n'
        "- add_column: {table: crm.a, column: {name: x, type: int}}\n"
    )
    res = zdm("plan", str(path))
    assert res.exit_code == 2
    (line,) = res.stderr.strip().splitlines()
    assert "schemas 'Crm' and 'crm' would both get version schema crm_0002_x" in line


def test_a_second_migration_on_a_table_of_either_schema_is_refused(setup: Setup) -> None:
    setup.project.ok("apply", str(setup.path))
    other = setup.folder / "0003_crm.yaml"
    other.write_text("- add_column: {table: crm.customers, column: {name: note, type: text}}\n")
    res = setup.project.zdm("apply", str(other))
    assert res.exit_code == 2
    assert "migration '0002_split' is still in flight on customers" in res.stderr
    assert "note" not in dict(setup.columns("crm", "customers"))
    # a table of the same name in a schema the migration does not change is free
    with psycopg.connect(setup.migrator_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.customers (id int PRIMARY KEY)")
    free = setup.folder / "0004_public.yaml"
    free.write_text("- add_column: {table: customers, column: {name: note, type: text}}\n")
    setup.project.ok("apply", str(free))


def test_cleanup_drops_one_schemas_version_kept_while_in_use(
    setup: Setup, pg_server: Server
) -> None:
    migrator = psycopg.conninfo.conninfo_to_dict(setup.migrator_url)["user"]
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        # to see the app role's sessions (docs/connecting.md, least privileges)
        admin.execute(
            sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(str(migrator)))
        )
    setup.project.ok("apply", str(setup.path))
    setup.project.ok("complete", NAME)
    later = setup.folder / "0003_crm_note.yaml"
    later.write_text("- add_column: {table: crm.customers, column: {name: note, type: text}}\n")
    setup.project.ok("apply", str(later))
    url = psycopg.conninfo.make_conninfo(setup.migrator_url, user=setup.app)
    user = psycopg.connect(url, application_name="billing", options=f"-c search_path={NEW_PATH}")
    user.execute(f"SELECT total FROM {CRM_V}.accounts")  # its views open in a transaction
    done = setup.project.ok("complete", "0003_crm_note")
    assert f"kept version schema {CRM_V} of {NAME}" in done.stderr
    assert CRM_V in setup.catalog()["public"]["schemas"]
    user.rollback()
    user.close()
    cleaned = json.loads(setup.project.ok("cleanup", "--format", "json").stdout)
    assert [(d["migration"], d["version_schema"]) for d in cleaned["dropped"]] == [(NAME, CRM_V)]
    schemas = setup.catalog()["public"]["schemas"]
    assert CRM_V not in schemas and BILLING_V in schemas
