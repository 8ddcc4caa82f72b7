"""``zdmigrate lint`` as CI sees it: exit codes, formats, inputs, settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.lint.helpers import lint, write

DROP = "ALTER TABLE users DROP COLUMN legacy;\n"
SAFE = "SET lock_timeout = '500ms';\nALTER TABLE users ADD COLUMN note text;\n"


def test_clean_file_exits_0(tmp_path: Path) -> None:
    res = lint(write(tmp_path, "ok.sql", SAFE))
    assert res.exit_code == 0
    assert "no problems (1 file, 2 statements)" in res.stdout


def test_findings_exit_1_with_location_rule_and_help(tmp_path: Path) -> None:
    path = write(tmp_path, "m.sql", "SET lock_timeout = '1s';\n" + DROP)
    res = lint(path)
    assert res.exit_code == 1
    assert f"{path}:2:1: error ZD101 drop-column:" in res.stdout
    assert "  2 | ALTER TABLE users DROP COLUMN legacy;" in res.stdout
    assert "help: use the zdmigrate operation drop_column" in res.stdout


def test_fail_on_error_ignores_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, "m.sql", "CREATE INDEX i ON orders (x);\n")
    assert lint(path).exit_code == 1
    assert lint(path, "--fail-on", "error").exit_code == 0


def test_missing_path_is_one_line_exit_2(tmp_path: Path) -> None:
    res = lint(str(tmp_path / "nope.sql"))
    assert res.exit_code == 2
    assert res.stderr.strip().count("\n") == 0
    assert "no such file or directory" in res.stderr


def test_unsupported_file_exit_2(tmp_path: Path) -> None:
    res = lint(write(tmp_path, "m.txt", DROP))
    assert res.exit_code == 2
    assert "cannot lint a '.txt' file" in res.stderr


def test_no_paths_exit_2() -> None:
    res = lint()
    assert res.exit_code == 2
    assert "no paths to lint" in res.stderr


def test_stdin() -> None:
    res = lint("-", stdin=DROP)
    assert res.exit_code == 1
    assert "<stdin>:1:1: error ZD101" in res.stdout


def test_syntax_error_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.sql", "SELECT 1;\nALTER TABLE t ADD COLUMN;\n" + DROP)
    res = lint(path)
    assert res.exit_code == 1
    assert f"{path}:2:25: error ZD001 syntax-error" in res.stdout
    assert f"{path}:3:1: error ZD101 drop-column" in res.stdout


def test_json_format(tmp_path: Path) -> None:
    res = lint(write(tmp_path, "m.sql", DROP), "--format", "json", "--ignore", "ZD213")
    data = json.loads(res.stdout)
    assert [f["rule"] for f in data["findings"]] == ["drop-column"]
    assert data["findings"][0]["line"] == 1
    assert data["summary"] == {"files": 1, "statements": 1, "findings": 1, "error": 1}


def test_github_format(tmp_path: Path) -> None:
    path = write(tmp_path, "m.sql", DROP)
    res = lint(path, "--format", "github", "--ignore", "missing-lock-timeout")
    first = res.stdout.splitlines()[0]
    assert first.startswith(f"::error file={path},line=1,col=1,title=ZD101 drop-column::")
    assert "%0Ahelp: " in first


def test_objects_created_in_an_earlier_file_are_deployed_not_new(tmp_path: Path) -> None:
    write(tmp_path, "0001_create.sql", "CREATE TABLE invoices (id bigint, n bigint);\n")
    write(tmp_path, "0002_index.sql", "CREATE INDEX invoices_n_idx ON invoices (n);\n")
    res = lint(str(tmp_path))
    assert res.exit_code == 1
    assert "0002_index.sql:1:1: warning ZD201 create-index-not-concurrently" in res.stdout


def test_suppression_on_the_line_and_the_line_before(tmp_path: Path) -> None:
    sql = (
        "SET lock_timeout = '1s';\n"
        "ALTER TABLE a DROP COLUMN x; -- zdmigrate: ignore drop-column unused since 2023\n"
        "-- zdmigrate: ignore ZD101, rename-column\n"
        "ALTER TABLE b DROP COLUMN y;\n"
        "ALTER TABLE c DROP COLUMN z;\n"
    )
    res = lint(write(tmp_path, "m.sql", sql), "--format", "json")
    lines = [f["line"] for f in json.loads(res.stdout)["findings"]]
    assert lines == [5]


def test_file_level_suppression(tmp_path: Path) -> None:
    sql = "-- zdmigrate: ignore-file drop-column, ZD213\n" + DROP + DROP
    assert lint(write(tmp_path, "m.sql", sql)).exit_code == 0


def test_select_all_enables_style_rules(tmp_path: Path) -> None:
    path = write(tmp_path, "m.sql", "CREATE TABLE t (id serial, at timestamp, doc json);\n")
    assert lint(path).exit_code == 0
    res = lint(path, "--select", "all", "--format", "json")
    rules = {f["rule"] for f in json.loads(res.stdout)["findings"]}
    assert rules == {"prefer-bigint", "prefer-identity", "prefer-timestamptz", "prefer-jsonb"}


def test_unknown_rule_exit_2(tmp_path: Path) -> None:
    res = lint(write(tmp_path, "m.sql", DROP), "--ignore", "no-such-rule")
    assert res.exit_code == 2
    assert "unknown lint rule 'no-such-rule'" in res.stderr


def test_in_transaction_flag(tmp_path: Path) -> None:
    path = write(tmp_path, "m.sql", "CREATE INDEX CONCURRENTLY i ON orders (x);\n")
    assert lint(path).exit_code == 0
    res = lint(path, "--in-transaction")
    assert res.exit_code == 1
    assert "concurrently-in-transaction" in res.stdout


def test_exclude_glob(tmp_path: Path) -> None:
    write(tmp_path, "0001_old.sql", DROP)
    write(tmp_path, "0002_new.sql", SAFE)
    assert lint(str(tmp_path), "--exclude", "*0001_old.sql").exit_code == 0


def test_pyproject_settings(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[tool.zdmigrate.lint]\nignore = ["drop-column", "ZD213"]\npg-version = 10\n',
    )
    path = write(tmp_path, "m.sql", DROP + "ALTER TABLE a ADD COLUMN f boolean DEFAULT true;\n")
    res = lint(path, config=tmp_path / "pyproject.toml")
    assert "drop-column" not in res.stdout
    assert "any default before PostgreSQL 11" in res.stdout


def test_bad_pyproject_setting_exit_2(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.zdmigrate.lint]\nfail-on = 'sometimes'\n")
    res = lint(write(tmp_path, "m.sql", DROP), config=tmp_path / "pyproject.toml")
    assert res.exit_code == 2
    assert "'fail-on' must be info, warning or error" in res.stderr


def test_explain_and_list_rules() -> None:
    res = lint("--explain", "ZD101")
    assert res.exit_code == 0
    assert res.stdout.startswith("# ZD101 drop-column")
    assert "## Safe alternative" in res.stdout
    assert lint("--explain", "nope").exit_code == 2
    listing = lint("--list-rules").stdout
    assert "ZD213  missing-lock-timeout" in listing
    assert "prefer-jsonb" in listing


def test_columns_count_characters_not_bytes(tmp_path: Path) -> None:
    sql = (
        "SET lock_timeout = '1s';\n"
        "ALTER TABLE café ADD COLUMN señal text, ADD COLUMN ñ uuid DEFAULT gen_random_uuid();\n"
    )
    res = lint(write(tmp_path, "m.sql", sql), "--format", "json")
    (finding,) = json.loads(res.stdout)["findings"]
    assert (finding["rule"], finding["line"], finding["column"]) == ("volatile-default", 2, 52)
    assert sql.splitlines()[1][51:].startswith("ñ uuid")


def test_folder_of_migration_files_is_linted_in_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        "0001_create.yaml",
        "- create_table: {table: t, columns: [{name: id, type: bigint, primary_key: true}]}\n",
    )
    write(tmp_path, "0002_drop.yaml", "- drop_table: {table: t}\n")
    res = lint(str(tmp_path), "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["findings"] == []


def test_migration_file_on_a_table_no_file_creates_says_how_to_give_the_schema(
    tmp_path: Path,
) -> None:
    write(tmp_path, "0001.yaml", "- drop_table: {table: t}\n")
    res = lint(str(tmp_path))
    assert res.exit_code == 2
    assert "table 't' does not exist in schema 'public'" in res.stderr
    assert "--schema-file" in res.stderr and "pg_dump --schema-only" in res.stderr


def test_empty_folder_exit_2(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing to lint\n")
    (tmp_path / "helpers.py").write_text("def upgrade() -> None:\n    pass\n")  # no revision
    res = lint(str(tmp_path))
    assert res.exit_code == 2
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith(
        f"error: {tmp_path}: no .sql files, no migration files, no Alembic revision scripts "
        "and no Alembic project here (hint: "
    )


def _corpus(folder: Path, files: int = 400) -> None:
    """Enough SQL to be linted in several processes; the last file alters a column
    that the first file creates, so a later run must learn its type from an earlier one."""
    write(folder, "0000_create.sql", "CREATE TABLE early (id bigint PRIMARY KEY, x varchar(10));\n")
    for n in range(1, files):
        write(
            folder,
            f"{n:04d}_m.sql",
            f"SET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN c{n} text;\n"
            f"CREATE INDEX users_c{n}_idx ON users (c{n});\n"
            f"-- {'padding ' * 40}\nALTER TABLE orders DROP COLUMN legacy{n};\n",
        )
    write(
        folder,
        "9999_late.sql",
        "SET lock_timeout = '1s';\nALTER TABLE early ALTER COLUMN x TYPE varchar(20);\n",
    )


def test_parallel_lint_finds_exactly_what_one_process_finds(tmp_path: Path) -> None:
    from zdmigrate.lint import LintSettings, lint_paths
    from zdmigrate.lint.runner import PARALLEL_MIN_CHARS

    _corpus(tmp_path)
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) > PARALLEL_MIN_CHARS
    one = lint_paths([str(tmp_path)], LintSettings(), jobs=1)
    several = lint_paths([str(tmp_path)], LintSettings(), jobs=3)
    assert several.findings == one.findings
    assert (several.files, several.statements) == (one.files, one.statements) == (401, 1599)
    # the last file widens a varchar the first file created: no rewrite, not reported
    assert not [f for f in one.findings if f.path.endswith("9999_late.sql")]
    assert {f.code for f in one.findings} == {"ZD101", "ZD201"}


def _console(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    probe = (
        "import sys\nfrom zdmigrate.cli.main import main\ntry:\n    main()\nfinally:\n"
        "    heavy = sorted(m for m in ('typer', 'rich', 'pydantic') if m in sys.modules)\n"
        "    print('loaded:', heavy, file=sys.stderr)\n"
    )
    cmd = [sys.executable, "-c", probe, *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False)


def test_console_script_lints_without_the_rest_of_the_cli(tmp_path: Path) -> None:
    path = write(tmp_path, "m.sql", "SET lock_timeout = '1s';\n" + DROP)
    config = write(tmp_path, "pyproject.toml", '[tool.zdmigrate.lint]\nignore = ["ZD101"]\n')
    direct = _console("--traceback", "--config", config, "lint", path, "-f", "json", cwd=tmp_path)
    assert "loaded: []" in direct.stderr
    assert direct.returncode == 0
    via_typer = lint(path, "-f", "json", config=Path(config))
    assert json.loads(direct.stdout) == json.loads(via_typer.stdout)
    bad = _console("lint", path, "--format", "xml", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[0].startswith("error: zdmigrate lint: argument -f/--format")
    # other commands still get the full command line
    other = _console("--version", cwd=tmp_path)
    assert other.returncode == 0 and "zdmigrate" in other.stdout
