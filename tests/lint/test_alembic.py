"""Alembic projects and revision scripts, linted end to end with file and line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.lint.helpers import ALEMBIC_PROJECT, lint, write
from zdmigrate.alembic import project_sources

VERSIONS = ALEMBIC_PROJECT / "versions"


def _findings(*args: str) -> list[tuple[str, int, str]]:
    res = lint(*args, "--format", "json")
    return [
        (Path(f["path"]).name, f["line"], f["rule"]) for f in json.loads(res.stdout)["findings"]
    ]


def test_project_findings_point_at_the_op_call() -> None:
    assert _findings(str(ALEMBIC_PROJECT)) == [
        ("0002_add_status.py", 12, "add-required-column"),
        ("0002_add_status.py", 13, "create-index-not-concurrently"),
        ("0002_add_status.py", 13, "lock-held-across-statements"),
        ("0003_raw_sql.py", 11, "rename-column"),
    ]


def test_text_output_shows_the_python_line() -> None:
    res = lint(str(ALEMBIC_PROJECT))
    assert res.exit_code == 1
    assert '  11 |     op.execute("ALTER TABLE accounts RENAME COLUMN email TO email_address")' in (
        res.stdout
    )


def test_revisions_render_like_alembic_offline_with_transactions() -> None:
    sources = list(project_sources(ALEMBIC_PROJECT))
    assert [Path(s.path).name for s in sources] == [
        "0001_create_users.py",
        "0002_add_status.py",
        "0003_raw_sql.py",
    ]
    last = sources[2].sql
    assert last.startswith("BEGIN;")
    assert "COMMIT;\n\nCREATE INDEX CONCURRENTLY accounts_created_idx" in last
    assert last.rstrip().endswith("COMMIT;")


def test_single_revision_script_alone() -> None:
    found = _findings(str(VERSIONS / "0003_raw_sql.py"))
    assert found == [("0003_raw_sql.py", 11, "rename-column")]


def test_table_created_by_an_earlier_revision_is_new() -> None:
    assert _findings(str(VERSIONS / "0001_create_users.py")) == []


def test_revision_that_cannot_render_offline_is_a_finding(tmp_path: Path) -> None:
    script = write(
        tmp_path,
        "0009_data.py",
        '"""Needs a live connection."""\n'
        "from alembic import op\n\n"
        'revision = "0009"\ndown_revision = None\n\n\n'
        "def upgrade() -> None:\n"
        "    op.execute(\"SET lock_timeout = '1s'\")\n"
        '    op.get_bind().execute("SELECT 1").one()\n',
    )
    res = lint(script, "--format", "json")
    assert res.exit_code == 1
    (finding,) = json.loads(res.stdout)["findings"]
    assert (finding["rule"], finding["line"]) == ("not-linted", 10)
    assert finding["message"].startswith("not linted from line 10 on: upgrade() stopped")


def test_hash_suppression_in_scripts(tmp_path: Path) -> None:
    script = write(
        tmp_path,
        "0010_drop.py",
        "from alembic import op\n\n"
        'revision = "0010"\ndown_revision = None\n\n\n'
        "def upgrade() -> None:\n"
        "    # zdmigrate: ignore missing-lock-timeout set by our env.py\n"
        '    op.drop_column("accounts", "legacy")  # zdmigrate: ignore drop-column\n',
    )
    assert lint(script).exit_code == 0


def test_prepend_sys_path_lets_revisions_import_project_modules(tmp_path: Path) -> None:
    write(
        tmp_path,
        "alembic.ini",
        "[alembic]\nscript_location = %(here)s/migrations\nprepend_sys_path = .\n",
    )
    write(tmp_path, "zdm_fixture_sql.py", 'DROP = "ALTER TABLE accounts DROP COLUMN old"\n')
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    write(tmp_path / "migrations", "env.py", "")
    write(
        versions,
        "0001_drop.py",
        "from alembic import op\n\nfrom zdm_fixture_sql import DROP\n\n"
        'revision = "0001"\ndown_revision = None\n\n\n'
        "def upgrade() -> None:\n"
        "    op.execute(DROP)\n",
    )
    assert _findings(str(tmp_path), "--ignore", "ZD213") == [("0001_drop.py", 10, "drop-column")]


def test_scripts_given_one_by_one_run_in_revision_order() -> None:
    scripts = [str(VERSIONS / n) for n in ("0003_raw_sql.py", "0001_create_users.py")]
    res = lint(*scripts, "--format", "json")
    paths = [Path(f["path"]).name for f in json.loads(res.stdout)["findings"]]
    assert paths == ["0003_raw_sql.py"]
    sources = __import__("zdmigrate.alembic", fromlist=["revision_sources"]).revision_sources
    order = [Path(s.path).name for s in sources([Path(p) for p in scripts])]
    assert order == ["0001_create_users.py", "0003_raw_sql.py"]
