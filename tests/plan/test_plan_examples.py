"""`zdmigrate plan` on every example file matches its checked-in expected output.

Offline planning replays the earlier files beside each one, so these need no
server; an example on tables no earlier file can make (a partitioned table) is
planned against its setup SQL (migrations_examples/setup/). After an intended
change, regenerate with ZDMIGRATE_UPDATE_EXPECTED=1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli_helpers import zdm

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "migrations_examples").glob("*.*"))
# a project of its own: a partitioned table, which no migration file can create
PARTITIONED = sorted((ROOT / "migrations_examples" / "partitioned").glob("*.*"))
EXPECTED = Path(__file__).parent / "expected"
NO_DB = {"ZDMIGRATE_DATABASE_URL": "", "DATABASE_URL": ""}


def _setup(example: Path) -> str:
    return str((example.parent / "setup" / f"{example.stem}.sql").relative_to(ROOT))


def _schema_args(example: Path) -> list[str]:
    """The partitioned examples plan against their setup SQL, read as a schema dump."""
    return ["--schema-file", _setup(example)] if example in PARTITIONED else []


def _check(actual: str, path: Path) -> None:
    if os.environ.get("ZDMIGRATE_UPDATE_EXPECTED"):
        path.write_text(actual)
    assert path.exists(), f"no expected output {path.name}; run with ZDMIGRATE_UPDATE_EXPECTED=1"
    assert actual == path.read_text()


@pytest.mark.parametrize("example", EXAMPLES + PARTITIONED, ids=lambda p: p.stem)
@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_plan_matches_expected(example: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    args = _schema_args(example)
    res = zdm("plan", "--format", fmt, *args, str(example.relative_to(ROOT)), env=NO_DB)
    assert res.exit_code == 0, res.stderr
    suffix = "md" if fmt == "markdown" else "txt"
    _check(res.stdout, EXPECTED / f"{example.stem}.{suffix}")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_setup_sql_is_the_schema_the_earlier_examples_leave(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each setup file is the schema its example assumes: planned against it, the example
    sends exactly what it sends planned after the earlier examples (tests/engine runs
    the setups and the examples on a server)."""
    monkeypatch.chdir(ROOT)
    path = str(example.relative_to(ROOT))
    setup = _setup(example)
    replayed = zdm("plan", "--format", "json", path, env=NO_DB)
    from_setup = zdm("plan", "--format", "json", "--schema-file", setup, path, env=NO_DB)
    assert replayed.exit_code == from_setup.exit_code == 0, replayed.stderr + from_setup.stderr
    a, b = json.loads(replayed.stdout), json.loads(from_setup.stdout)
    assert (a["phases"], a["deprecated"]) == (b["phases"], b["deprecated"])


def test_plan_json_lists_locks_and_phases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    res = zdm(
        "plan", "--format", "json", "migrations_examples/0004_orders_amount_bigint.yaml", env=NO_DB
    )
    data = json.loads(res.stdout)
    assert data["search_path"] == "public_0004_orders_amount_bigint,public"
    expand = data["phases"]["expand"]
    assert [(s["key"], s["lock"]) for s in expand] == [
        ("expand:writes-counter", "none"),
        ("expand:table:orders", "ACCESS EXCLUSIVE"),
        ("expand:constraints:orders", "ACCESS EXCLUSIVE"),
        ("expand:table:users", "ACCESS EXCLUSIVE"),
        ("expand:constraints:users", "ACCESS EXCLUSIVE"),
        ("expand:version-schema", "ACCESS SHARE"),
    ]
    assert not any(s["rewrites"] for p in data["phases"].values() for s in p if "rewrites" in s)
    assert [{k: b[k] for k in ("table", "key", "columns")} for b in data["phases"]["backfill"]] == [
        {"table": "orders", "key": ["id"], "columns": ["_zdm_amount_cents"]},
        {"table": "users", "key": ["id"], "columns": ["_zdm_name"]},
    ]
    index_steps = [s for s in expand if not s["transactional"]]
    assert all(s["lock"] == "SHARE UPDATE EXCLUSIVE" for s in index_steps)


def test_plan_against_a_database_adds_row_counts(db_url: str, tmp_path: Path) -> None:
    first = ROOT / "migrations_examples/0001_create_users.yaml"
    assert zdm("--database-url", db_url, "apply", str(first)).exit_code == 0
    res = zdm(
        "--database-url",
        db_url,
        "plan",
        "--format",
        "json",
        str(ROOT / "migrations_examples/0002_add_users_country.yaml"),
    )
    data = json.loads(res.stdout)
    assert data["live"] is True
    assert set(data["tables"]) == {"users"}
    assert data["tables"]["users"]["bytes"] >= 0


def test_plan_of_a_bad_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "0001_x.yaml"
    bad.write_text("- drop_column: {table: nope, column: c}\n")
    res = zdm("plan", str(bad), env=NO_DB)
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "error: 0001_x: operation 1 (drop_column): table 'nope' does not exist in schema "
        "'public' (hint: check the name; tables there: none (planned from the earlier "
        "migration files only: give the schema with --database-url, --schema-file DUMP.sql "
        "(pg_dump --schema-only) or --schema-file SNAPSHOT.json (zdmigrate snapshot)))"
    ]


def test_plan_shows_the_search_path_apply_prints_for_a_schema_with_an_underscore(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.zdmigrate]\nschema = "my_app"\n')
    first = tmp_path / "0001_t.yaml"
    first.write_text(
        "- create_table: {table: t, columns: [{name: id, type: bigint, primary_key: true}]}\n"
    )
    res = zdm(
        "--config", str(tmp_path / "pyproject.toml"), "plan", "-f", "json", str(first), env=NO_DB
    )
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["search_path"] == "my_app_0001_t,my_app"
