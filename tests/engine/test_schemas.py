"""Tables in several schemas, from one project: a migration file's ``schema:``, the
``--schema`` flag, and version schema names that cannot be shared.

Two schemas hold a table of the same name; the migration role is not a
superuser and no ``[tool.zdmigrate] schema`` is set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from tests.cli_helpers import Project, zdm

WIDEN = "  - alter_column: {table: accounts, column: n, type: bigint}\n"


def _columns(url: str, schema: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE "
            "table_schema = %s AND table_name = 'accounts' ORDER BY ordinal_position",
            (schema,),
        ).fetchall()


def _setup(url: str, folder: Path) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in ("billing", "crm"):
            conn.execute(f"CREATE SCHEMA {schema}")
            conn.execute(f"CREATE TABLE {schema}.accounts (id int PRIMARY KEY, n int)")
            conn.execute(f"INSERT INTO {schema}.accounts SELECT g, g FROM generate_series(1, 9) g")
    (folder / "pyproject.toml").write_text("[tool.zdmigrate]\n")


def _run(url: str, folder: Path, *args: str) -> Any:
    return Project(url, folder).zdm(*args)


def test_a_file_names_its_schema_and_the_flag_sets_the_default(
    migrator_url: str, tmp_path: Path
) -> None:
    _setup(migrator_url, tmp_path)
    billing = tmp_path / "0001_billing_wide.yaml"
    billing.write_text("schema: billing\noperations:\n" + WIDEN)
    crm = tmp_path / "0002_crm_wide.yaml"
    crm.write_text("operations:\n" + WIDEN)

    shown = _run(migrator_url, tmp_path, "plan", str(billing), "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["search_path"] == "billing_0001_billing_wide,billing"

    res = _run(migrator_url, tmp_path, "apply", str(billing), "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["search_path"] == "billing_0001_billing_wide,billing"
    res = _run(migrator_url, tmp_path, "--schema", "crm", "apply", str(crm), "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["version_schema"] == "crm_0002_crm_wide"

    for name in ("0001_billing_wide", "0002_crm_wide"):
        done = _run(migrator_url, tmp_path, "complete", name)
        assert done.exit_code == 0, done.stderr
    assert _columns(migrator_url, "billing") == [("id", "integer"), ("n", "bigint")]
    assert _columns(migrator_url, "crm") == [("id", "integer"), ("n", "bigint")]
    status = json.loads(_run(migrator_url, tmp_path, "status", "--format", "json").stdout)
    assert {(m["name"], m["schema_name"]) for m in status} == {
        ("0001_billing_wide", "billing"),
        ("0002_crm_wide", "crm"),
    }


def test_planning_offline_replays_only_the_earlier_files_of_the_same_schema(
    tmp_path: Path,
) -> None:
    (tmp_path / "0001_crm.yaml").write_text(
        "schema: crm\noperations:\n  - create_table:\n      table: accounts\n"
        "      columns: [{name: id, type: int, primary_key: true}, {name: n, type: int}]\n"
    )
    (tmp_path / "0002_billing.yaml").write_text("schema: billing\noperations:\n" + WIDEN)
    res = zdm("plan", str(tmp_path / "0002_billing.yaml"))
    assert res.exit_code == 2
    assert "table 'accounts' does not exist in schema 'billing'" in res.stderr


def test_a_version_schema_name_two_migrations_would_share_is_refused(
    migrator_url: str, tmp_path: Path
) -> None:
    """Schema ``crm`` with migration ``x_y`` and schema ``crm_x`` with ``y`` both give
    ``crm_x_y``: the second is refused before anything changes."""
    _setup(migrator_url, tmp_path)
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA crm_x")
        conn.execute("CREATE TABLE crm_x.accounts (id int PRIMARY KEY, n int)")
    (tmp_path / "x_y.yaml").write_text("schema: crm\noperations:\n" + WIDEN)
    (tmp_path / "y.yaml").write_text("schema: crm_x\noperations:\n" + WIDEN)
    assert _run(migrator_url, tmp_path, "apply", str(tmp_path / "x_y.yaml")).exit_code == 0
    res = _run(migrator_url, tmp_path, "apply", str(tmp_path / "y.yaml"))
    assert res.exit_code == 2
    assert "version schema crm_x_y is already the one of migration 'x_y'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert _columns(migrator_url, "crm_x") == [("id", "integer"), ("n", "integer")]


def test_a_bad_schema_key_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "0001_x.yaml"
    path.write_text("schema: 42\noperations:\n" + WIDEN)
    res = zdm("validate", str(path))
    assert res.exit_code == 2
    assert res.stderr.strip().startswith(f"error: {path}:1: 'schema' must be a schema name")


def test_tables_qualified_per_operation_set_the_migrations_schema(
    migrator_url: str, tmp_path: Path
) -> None:
    _setup(migrator_url, tmp_path)
    path = tmp_path / "0001_crm_wide.yaml"
    path.write_text(
        "- alter_column: {table: crm.accounts, column: n, type: bigint}\n"
        "- add_column: {table: crm.accounts, column: {name: note, type: text}}\n"
    )
    res = _run(migrator_url, tmp_path, "apply", str(path), "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["search_path"] == "crm_0001_crm_wide,crm"
    assert _run(migrator_url, tmp_path, "complete", "0001_crm_wide").exit_code == 0
    assert _columns(migrator_url, "crm") == [("id", "integer"), ("n", "bigint"), ("note", "text")]
    assert _columns(migrator_url, "billing") == [("id", "integer"), ("n", "integer")]


def test_an_operation_that_names_two_schemas_is_refused(migrator_url: str, tmp_path: Path) -> None:
    """A migration may change tables of several schemas (tests/engine/test_multischema.py),
    but one operation stays within its table's schema."""
    _setup(migrator_url, tmp_path)
    path = tmp_path / "0001_move.yaml"
    path.write_text("- rename_table: {from: crm.accounts, to: billing.accounts2}\n")
    message = (
        "0001_move.yaml:1: operation 1 (rename_table): 'billing.accounts2' is in schema "
        "'billing', but the operation's table is in 'crm'"
    )
    for command in ("plan", "apply"):
        res = _run(migrator_url, tmp_path, command, str(path))
        assert res.exit_code == 2
        (line,) = res.stderr.strip().splitlines()
        assert (
            message in line and "(hint: an operation changes a table within its own schema)" in line
        )
    assert _columns(migrator_url, "crm") == [("id", "integer"), ("n", "integer")]
