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


def test_a_migration_file_is_linted_with_the_configured_timeouts(tmp_path: Path) -> None:
    """lint sees the SQL apply sends, with [tool.zdmigrate] lock-timeout-ms, not 500 ms."""
    from zdmigrate.lint import load_lint_settings
    from zdmigrate.lint.inputs import collect_sources

    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.zdmigrate]\nlock-timeout-ms = 1500\nstatement-timeout-ms = 60000\n")
    migration = tmp_path / "0001_t.yaml"
    migration.write_text(
        "- create_table: {table: t, columns: [{name: id, type: bigint, primary_key: true}]}\n"
        "- create_index: {name: t_id, table: t, columns: [id]}\n"
    )
    (source,) = collect_sources([str(migration)], load_lint_settings(config))
    assert "SET LOCAL lock_timeout = '1500ms';" in source.sql
    assert "SET lock_timeout = '1500ms';" in source.sql
    assert "SET LOCAL statement_timeout = '60000ms';" in source.sql
    assert "500ms" not in source.sql.replace("1500ms", "")
    res = zdm("--config", str(config), "lint", str(migration))
    assert res.exit_code == 0, res.stdout + res.stderr


def test_lint_plans_against_a_schema_file(tmp_path: Path) -> None:
    """A database whose tables predate zdmigrate: lint the migration against its dump."""
    (tmp_path / "schema.sql").write_text(
        "CREATE TABLE public.accounts (id bigint NOT NULL, balance integer);\n"
        "ALTER TABLE ONLY public.accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY (id);\n"
    )
    migration = tmp_path / "0001_wide.yaml"
    migration.write_text("- alter_column: {table: accounts, column: balance, type: bigint}\n")
    assert zdm("lint", str(migration)).exit_code == 2
    res = zdm("lint", "--schema-file", str(tmp_path / "schema.sql"), str(migration))
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.stdout.startswith("no problems (1 file, ")


def test_lint_plans_a_migration_file_against_the_database(
    db: object, db_url: str, tmp_path: Path
) -> None:
    """With --database-url, a table that predates zdmigrate is read from the database."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, balance integer)")
    migration = tmp_path / "0001_wide.yaml"
    migration.write_text("- alter_column: {table: accounts, column: balance, type: bigint}\n")
    res = zdm("lint", "--database-url", db_url, str(migration))
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.stdout.startswith("no problems (1 file, ")
