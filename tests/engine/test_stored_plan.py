"""`apply` stores the plan it ran; `complete` and `rollback` run the stored steps.

A DBA reviews the plan before `apply`; if the settings or zdmigrate itself
change before `complete`, the contract that runs is still the reviewed one,
and zdmigrate says that it would now plan differently.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.cli_helpers import zdm

ROOT = Path(__file__).parents[2]
CREATE = "- create_table: {table: t, columns: [{name: id, type: bigint, primary_key: true}, {name: n, type: integer}]}\n"
WIDEN = "- alter_column: {table: t, column: n, type: bigint}\n"


def _files(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "0001_t.yaml", tmp_path / "0002_wide.yaml"
    first.write_text(CREATE)
    second.write_text(WIDEN)
    return first, second


def _applied(db_url: str, tmp_path: Path) -> None:
    """0001_t completed, 0002_wide applied (its plan stored)."""
    first, second = _files(tmp_path)
    assert zdm("--database-url", db_url, "apply", str(first)).exit_code == 0
    assert zdm("--database-url", db_url, "complete", "0001_t").exit_code == 0
    assert zdm("--database-url", db_url, "apply", str(second)).exit_code == 0


def _config(tmp_path: Path, lock_timeout_ms: int) -> Path:
    path = tmp_path / f"pyproject-{lock_timeout_ms}.toml"
    path.write_text(f"[tool.zdmigrate]\nlock-timeout-ms = {lock_timeout_ms}\n")
    return path


def _psql(db_url: str, script: str, folder: Path) -> None:
    """Run a plan's SQL script as a DBA would: psql, stopping at the first error."""
    (folder / "plan.sql").write_text(script)
    done = subprocess.run(
        ["psql", db_url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(folder / "plan.sql")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _sent(log: Path) -> list[str]:
    return [json.loads(line)["sql"] for line in log.read_text().splitlines()]


@pytest.mark.parametrize("command", ["complete", "rollback"])
def test_a_later_command_runs_the_stored_plan_and_says_it_would_plan_differently(
    db_url: str, tmp_path: Path, command: str
) -> None:
    first, second = _files(tmp_path)
    assert zdm("--database-url", db_url, "apply", str(first)).exit_code == 0
    assert zdm("--database-url", db_url, "complete", "0001_t").exit_code == 0
    applied = zdm(
        "--database-url", db_url, "--config", str(_config(tmp_path, 400)), "apply", str(second)
    )
    assert applied.exit_code == 0, applied.stderr
    log = tmp_path / "sql.log"
    res = zdm(
        "--database-url",
        db_url,
        "--config",
        str(_config(tmp_path, 900)),
        command,
        "0002_wide",
        env={"ZDMIGRATE_SQL_LOG": str(log)},
    )
    assert res.exit_code == 0, res.stderr
    assert "would now plan" in res.stderr and "running the plan stored at apply" in res.stderr
    sent = _sent(log)
    assert "SET LOCAL lock_timeout = '400ms';" in sent
    assert "SET LOCAL lock_timeout = '900ms';" not in sent


def test_the_stored_plan_is_the_plan_shown_before_apply(db_url: str, tmp_path: Path) -> None:
    first, second = _files(tmp_path)
    assert zdm("--database-url", db_url, "apply", str(first)).exit_code == 0
    assert zdm("--database-url", db_url, "complete", "0001_t").exit_code == 0
    shown = json.loads(zdm("--database-url", db_url, "plan", "-f", "json", str(second)).stdout)
    assert zdm("--database-url", db_url, "apply", str(second)).exit_code == 0
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT plan, planned_by FROM zdmigrate.migrations WHERE name = '0002_wide'"
        ).fetchone()
    assert row is not None
    stored, planned_by = row
    assert planned_by
    for phase, key in (("expand", "expand"), ("contract", "contract"), ("rollback", "rollback")):
        assert [s["sql"] for s in stored[key]] == [s["sql"] for s in shown["phases"][phase]]
    res = zdm("--database-url", db_url, "complete", "0002_wide")
    assert res.exit_code == 0 and "would now plan" not in res.stderr


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_the_sql_script_runs_with_psql(db_url: str, tmp_path: Path) -> None:
    """`plan --format sql` is a script a DBA could run by hand: run it, and the table is there."""
    first, _ = _files(tmp_path)
    script = zdm("plan", "--format", "sql", str(first), env={"ZDMIGRATE_DATABASE_URL": ""})
    assert script.exit_code == 0, script.stderr
    _psql(db_url, script.stdout, tmp_path)
    with psycopg.connect(db_url) as conn:
        cols = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = 't' ORDER BY ordinal_position"
        ).fetchall()
        views = conn.execute(
            "SELECT count(*) FROM information_schema.views WHERE table_schema = 'public_0001_t'"
        ).fetchone()
    assert cols == [("id",), ("n",)]
    assert views == (1,)


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_the_sql_script_rebuilds_an_invalid_index(db_url: str, tmp_path: Path) -> None:
    """The cleanup of an index left INVALID runs in the psql script as it does in apply."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, n integer)")
        conn.execute("INSERT INTO t VALUES (1, 1), (2, 1)")
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY t_n_idx ON t (n)")
        conn.execute("UPDATE t SET n = 2 WHERE id = 2")
    migration = tmp_path / "0001_idx.yaml"
    migration.write_text("- create_index: {name: t_n_idx, table: t, columns: [n], unique: true}\n")
    (tmp_path / "schema.sql").write_text(
        "CREATE TABLE public.t (id bigint NOT NULL, n integer);\n"
        "ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n"
    )
    script = zdm(
        "plan",
        "--format",
        "sql",
        "--schema-file",
        str(tmp_path / "schema.sql"),
        str(migration),
        env={"ZDMIGRATE_DATABASE_URL": ""},
    )
    assert script.exit_code == 0, script.stderr
    _psql(db_url, script.stdout, tmp_path)
    with psycopg.connect(db_url) as conn:
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_n_idx'::regclass"
        ).fetchone()
    assert valid == (True,)


def test_a_migration_applied_before_plans_were_stored_is_replanned_and_says_so(
    db_url: str, tmp_path: Path
) -> None:
    _applied(db_url, tmp_path)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE zdmigrate.migrations SET plan = NULL, planned_by = NULL")
    res = zdm("--database-url", db_url, "complete", "0002_wide")
    assert res.exit_code == 0, res.stderr
    assert "applied by an older zdmigrate that stored no plan: re-planned" in res.stderr
    with psycopg.connect(db_url) as conn:
        cols = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 't' ORDER BY ordinal_position"
        ).fetchall()
    assert cols == [("id", "bigint"), ("n", "bigint")]


def test_a_stored_plan_runs_even_when_this_zdmigrate_could_not_plan_the_file_now(
    db_url: str, tmp_path: Path
) -> None:
    _applied(db_url, tmp_path)
    with psycopg.connect(db_url, autocommit=True) as conn:  # as if it no longer fit
        conn.execute(
            "UPDATE zdmigrate.migrations SET catalog = jsonb_set(catalog, '{tables}', '{}') "
            "WHERE name = '0002_wide'"
        )
    res = zdm("--database-url", db_url, "complete", "0002_wide")
    assert res.exit_code == 0, res.stderr
    assert "would not plan 0002_wide now (" in res.stderr
