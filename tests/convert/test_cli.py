"""'zdmigrate convert' as a user runs it: files and stdin, exit codes, the notes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.cli_helpers import zdm
from zdmigrate.cli.app import app

SQL = """\
ALTER TABLE orders ALTER COLUMN amount_cents TYPE bigint USING amount_cents::bigint;
CREATE INDEX orders_status_idx ON orders (lower(status));
"""


def _stdin(*args: str, text: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["convert", *args], input=text, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def test_file_to_file_then_validate(tmp_path: Path) -> None:
    source = tmp_path / "0042_orders.sql"
    source.write_text(SQL)
    out = tmp_path / "0004_orders.yaml"
    res = zdm("convert", str(source), "-o", str(out))
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert "review: operation 1 (alter_column), field 'down' [from line 1]: left out" in lines[0]
    assert any(
        line.startswith("lint: operation 2 (sql): ZD201 create-index-not-concurrently")
        for line in lines
    )
    assert lines[-1] == f"wrote {out}: 2 operations, 2 to review, 1 lint finding"
    assert out.read_text().startswith(f"# Written by 'zdmigrate convert' from {source} (sql).")
    check = zdm("validate", str(out))
    assert check.exit_code == 0, check.stderr
    assert check.stdout.strip() == f"{out}: ok (2 operations)"


def test_stdin_to_stdout_with_from_inferred_from_content() -> None:
    code, out, err = _stdin("-", text='{"operations": [{"drop_table": {"name": "legacy"}}]}')
    assert code == 0, err
    assert "(pgroll)." in out.splitlines()[0]
    assert out.endswith("operations:\n  - drop_table:\n      table: legacy\n")


def test_json_report_carries_the_file_and_the_notes() -> None:
    code, out, err = _stdin("--from", "sql", "--format", "json", text=SQL)
    assert code == 0, err
    data = json.loads(out)
    assert data["from"] == "sql" and data["valid"] is True and data["operations"] == 2
    assert data["migration"].startswith("# Written by 'zdmigrate convert' from <stdin> (sql).")
    assert [f["code"] for f in data["findings"]] == ["ZD201"]
    assert data["review"][0]["field"] == "down"


def test_a_field_to_fill_exits_1_and_says_which(tmp_path: Path) -> None:
    out = tmp_path / "0005.yaml"
    code, _, err = _stdin(
        "-", "-o", str(out), text="ALTER TABLE users ADD COLUMN score integer NOT NULL;"
    )
    assert code == 1
    assert err.splitlines()[0] == (
        "fill in: operation 1 (add_column), field 'up' [from line 1]: "
        "a NOT NULL column needs the value of existing rows (an expression)"
    )
    assert "      # FILL IN up: a NOT NULL column needs" in out.read_text()
    assert zdm("validate", str(out)).exit_code == 2


def test_an_unsupported_pgroll_operation_is_one_line_and_exit_2(tmp_path: Path) -> None:
    source = tmp_path / "29_set_replica_identity.yaml"
    source.write_text(
        "operations:\n  - set_replica_identity:\n      table: fruits\n"
        "      identity: {type: index, index: fruits_pkey}\n"
    )
    out = tmp_path / "out.yaml"
    res = zdm("convert", str(source), "-o", str(out))
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1
    assert res.stderr.startswith(
        f"error: {source}: operation 1 (set_replica_identity): a pgroll 'set_replica_identity' "
        "has no equivalent in a zdmigrate migration (hint: "
    )
    assert not out.exists()


def test_bad_input_and_output_names_are_refused(tmp_path: Path) -> None:
    missing = zdm("convert", str(tmp_path / "nope.sql"))
    assert missing.exit_code == 2
    assert missing.stderr.startswith(f"error: {tmp_path / 'nope.sql'}: cannot read it")
    source = tmp_path / "a.sql"
    source.write_text(SQL)
    wrong = zdm("convert", str(source), "-o", str(tmp_path / "a.json"))
    assert wrong.exit_code == 2
    assert "the migration file convert writes is YAML" in wrong.stderr


def test_help_shows_an_example() -> None:
    res = zdm("convert", "--help")
    assert res.exit_code == 0
    assert "Example: zdmigrate convert 0042_orders.sql -o migrations/0004_orders.yaml" in res.stdout
