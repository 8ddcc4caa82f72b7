"""The optional rules are off until selected, in pyproject.toml or with --select."""

from __future__ import annotations

import json
from pathlib import Path

from tests.lint.helpers import lint, write

SQL = (
    "SET lock_timeout = '500ms';\n"
    "ALTER TABLE orders DROP CONSTRAINT orders_total_check;\n"
    "ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;\n"
)


def _rules(res_stdout: str) -> list[tuple[str, int]]:
    return [(f["rule"], f["line"]) for f in json.loads(res_stdout)["findings"]]


def test_off_by_default(tmp_path: Path) -> None:
    res = lint(write(tmp_path, "m.sql", SQL), "--format", "json")
    assert res.exit_code == 0
    assert _rules(res.stdout) == []


def test_enabled_in_pyproject(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "pyproject.toml",
        '[tool.zdmigrate.lint]\nselect = ["drop-constraint", "missing-statement-timeout"]\n',
    )
    res = lint(write(tmp_path, "m.sql", SQL), "--format", "json", config=Path(config))
    assert res.exit_code == 1
    assert _rules(res.stdout) == [
        ("drop-constraint", 2),
        ("missing-statement-timeout", 2),
        ("drop-constraint", 3),
    ]


def test_contract_steps_of_migration_files_do_not_count_as_breaking(tmp_path: Path) -> None:
    write(
        tmp_path,
        "0001_create.yaml",
        "- create_table:\n    table: orders\n    columns:\n"
        "      - {name: id, type: bigint, primary_key: true}\n"
        "      - {name: total, type: int}\n",
    )
    write(
        tmp_path,
        "0002_check.yaml",
        "- create_constraint: {table: orders, name: orders_total_check, type: check, "
        "check: total >= 0}\n",
    )
    write(
        tmp_path, "0003_drop.yaml", "- drop_constraint: {table: orders, name: orders_total_check}\n"
    )
    res = lint(str(tmp_path), "--select", "drop-constraint", "--format", "json")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert [r for r in _rules(res.stdout) if r[0] == "drop-constraint"] == []
