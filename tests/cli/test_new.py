"""``zdmigrate new NAME``: a numbered file to fill in, in the project's migrations folder."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import zdm
from zdmigrate.spec import parse_migration
from zdmigrate.spec.skeleton import EXAMPLES, next_number


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A project folder with a pyproject.toml and no [tool.zdmigrate] table; cwd in it."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    before = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(before)


def test_the_first_file_is_0001_in_migrations(project: Path) -> None:
    res = zdm("new", "Add users.country")
    assert res.exit_code == 0, res.stderr
    path = project / "migrations" / "0001_add_users_country.yaml"
    assert path.is_file()
    assert res.stdout.splitlines()[0] == "wrote migrations/0001_add_users_country.yaml (new folder)"
    text = path.read_text()
    assert "description: add users country" in text


def test_the_number_follows_the_highest(project: Path) -> None:
    folder = project / "migrations"
    folder.mkdir()
    for name in ("0001_a.yaml", "0007_b.json", "0003_c.yml", "notes.md", "0100_readme.txt"):
        (folder / name).write_text("- drop_table: {table: t}\n")
    res = zdm("new", "orders-amount bigint", "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout) == {
        "path": "migrations/0008_orders_amount_bigint.yaml",
        "name": "0008_orders_amount_bigint",
        "created_folder": False,
    }
    assert next_number(["12_x.yaml"]) == "0013"
    assert next_number(["00099_x.yaml", "3_y.yaml"]) == "00100"


def test_the_folder_comes_from_the_config(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.zdmigrate]\nmigrations_dir = "db/changes"\n')
    sub = project / "src"
    sub.mkdir()
    os.chdir(sub)  # the folder is the project's, not the working folder's
    res = zdm("new", "x")
    assert res.exit_code == 0, res.stderr
    assert (project / "db" / "changes" / "0001_x.yaml").is_file()
    assert zdm("new", "y", "--dir", "elsewhere").exit_code == 0
    assert (sub / "elsewhere" / "0001_y.yaml").is_file()


def test_the_skeleton_is_refused_until_filled_and_each_example_works(project: Path) -> None:
    assert zdm("new", "widen").exit_code == 0
    path = project / "migrations" / "0001_widen.yaml"
    res = zdm("validate", str(path))
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        f"error: {path}:6: the migration has no operations (hint: add at least one "
        "operation: docs/migration-files.md lists them)"
    )
    text = path.read_text()
    for example in EXAMPLES:
        filled = text.replace(f"  # {example}", f"  {example}")
        assert filled != text
        migration = parse_migration(filled, "0001_widen", str(path))
        assert len(migration.operations) == 1
    path.write_text(text.replace(f"  # {EXAMPLES[2]}", f"  {EXAMPLES[2]}"))
    assert zdm("validate", str(path)).exit_code == 0


def test_bad_names(project: Path) -> None:
    res = zdm("new", "--", "---")
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "error: new: '---' has no letter or digit to name a file with "
        "(hint: give a name such as add_users_country)"
    )
    res = zdm("new", "x" * 60)
    assert res.exit_code == 2
    assert "would pass PostgreSQL's 63-byte limit" in res.stderr
    assert "give a name of at most 51 characters" in res.stderr
    assert not (project / "migrations").exists() or not any((project / "migrations").iterdir())
