"""zdmigrate's own plans lint clean; a finding in one points at the migration file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import zdm

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "migrations_examples").glob("*.*"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_plan_lints_clean(example: Path) -> None:
    res = zdm("lint", str(example))
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.stdout.startswith("no problems (1 file, ")


def test_raw_sql_in_a_migration_is_linted(tmp_path: Path) -> None:
    (tmp_path / "0001_t.yaml").write_text(
        "- create_table: {table: t, columns: [{name: id, type: bigint, primary_key: true}, "
        "{name: x, type: integer}]}\n"
    )
    (tmp_path / "0002_index.yaml").write_text(
        "- sql: {up: 'CREATE INDEX t_x ON t (x);', down: 'DROP INDEX t_x;'}\n"
    )
    res = zdm("lint", str(tmp_path / "0002_index.yaml"))
    assert res.exit_code == 1
    first = res.stdout.splitlines()[0]
    assert first.startswith(f"{tmp_path / '0002_index.yaml'}:")
    assert "ZD201 create-index-not-concurrently" in first


def test_a_bad_migration_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "0001_bad.yaml"
    bad.write_text("- drop_column: {table: t}\n")
    res = zdm("lint", str(bad))
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        f"error: {bad}:1: operation 1 (drop_column), field 'column': Field required "
        "(hint: see docs/migration-files.md, or run 'zdmigrate schema' for the JSON Schema)"
    ]
