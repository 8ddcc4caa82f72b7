"""Deploy pipelines: ``apply migrations/`` every deploy, and a file's identity is its content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from tests.cli_helpers import zdm
from zdmigrate.spec import parse_migration

Conn = psycopg.Connection[Any]

RENAME = "- rename_column: {table: a, from: x, to: x2}\n"
WIDEN = "- alter_column: {table: b, column: y, type: bigint}\n"


def _tables(db: Conn) -> None:
    db.execute("CREATE TABLE a (id int PRIMARY KEY, x int)")
    db.execute("CREATE TABLE b (id int PRIMARY KEY, y int)")
    db.execute("INSERT INTO a SELECT g, g FROM generate_series(1, 50) g")
    db.execute("INSERT INTO b SELECT g, g FROM generate_series(1, 50) g")


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0002_b.yaml").write_text(WIDEN)
    (folder / "0001_a.yaml").write_text(RENAME)
    (folder / "README.md").write_text("not a migration\n")
    return folder


def _phases(db: Conn) -> list[tuple[str, str]]:
    rows = db.execute("SELECT name, phase FROM zdmigrate.migrations ORDER BY started_at").fetchall()
    return [(r[0], r[1]) for r in rows]


def test_a_folder_applies_in_order_then_reports_the_rest(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    _tables(db)
    folder = _folder(tmp_path)
    first = zdm("--database-url", db_url, "apply", str(folder))
    assert first.exit_code == 0, first.stderr
    assert _phases(db) == [("0001_a", "expanded"), ("0002_b", "expanded")]
    assert zdm("--database-url", db_url, "complete", "0001_a").exit_code == 0

    again = zdm("--database-url", db_url, "apply", "--format", "json", str(folder))
    assert again.exit_code == 0, again.stderr
    data = json.loads(again.stdout)
    assert [(d["name"], d["already"], d["steps_run"]) for d in data] == [
        ("0001_a", "completed", 0),
        ("0002_b", "expanded", 0),
    ]
    text = zdm("--database-url", db_url, "apply", str(folder))
    assert text.exit_code == 0
    assert "0001_a: already completed" in text.stdout
    assert "0002_b: already expanded" in text.stdout
    assert _phases(db) == [("0001_a", "completed"), ("0002_b", "expanded")]


def test_a_new_file_in_the_folder_is_the_only_one_applied(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    _tables(db)
    folder = _folder(tmp_path)
    (folder / "0002_b.yaml").unlink()
    assert zdm("--database-url", db_url, "apply", str(folder)).exit_code == 0
    (folder / "0002_b.yaml").write_text(WIDEN)
    res = zdm("--database-url", db_url, "apply", "--format", "json", str(folder))
    assert res.exit_code == 0, res.stderr
    assert [(d["name"], d["already"]) for d in json.loads(res.stdout)] == [
        ("0001_a", "expanded"),
        ("0002_b", None),
    ]
    view = db.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'public_0002_b' "
        "AND table_name = 'b' AND column_name = 'y'"
    ).fetchall()
    assert _phases(db)[-1] == ("0002_b", "expanded") and view == [("bigint",)]


def test_apply_of_a_completed_file_exits_0(db_url: str, db: Conn, tmp_path: Path) -> None:
    _tables(db)
    path = tmp_path / "0001_a.yaml"
    path.write_text(RENAME)
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0
    assert zdm("--database-url", db_url, "complete", "0001_a").exit_code == 0
    res = zdm("--database-url", db_url, "apply", str(path))
    assert res.exit_code == 0, res.stderr
    assert res.stdout.strip() == "0001_a: already completed"


def test_a_file_on_a_table_still_in_flight_is_named_and_stops_the_run(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    """0001 is expanded on a; 0002 changes a too: the run stops at 0002 with its file named
    (the deploy log says which file waits for which migration), before 0003."""
    _tables(db)
    folder = _folder(tmp_path)
    (folder / "0002_b.yaml").unlink()
    assert zdm("--database-url", db_url, "apply", str(folder)).exit_code == 0
    (folder / "0002_a_again.yaml").write_text(
        "- add_column: {table: a, column: {name: z, type: int}}\n"
    )
    (folder / "0003_b.yaml").write_text(WIDEN)
    res = zdm("--database-url", db_url, "apply", str(folder))
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines()[-1] == (
        f"error: {folder / '0002_a_again.yaml'}: migration '0001_a' is still in flight on a "
        "(hint: complete or roll back '0001_a' first)"
    )
    assert _phases(db) == [("0001_a", "expanded")]


def test_a_bad_file_in_the_folder_stops_before_anything_runs(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    _tables(db)
    folder = _folder(tmp_path)
    (folder / "0003_bad.yaml").write_text("- drop_column: {table: a}\n")
    res = zdm("--database-url", db_url, "apply", str(folder))
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines()[0].startswith(f"error: {folder / '0003_bad.yaml'}")
    exists = db.execute("SELECT to_regnamespace('zdmigrate') IS NOT NULL").fetchone()
    assert exists == (False,)


def test_an_empty_folder_is_refused(db_url: str, tmp_path: Path) -> None:
    res = zdm("--database-url", db_url, "apply", str(tmp_path))
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        f"error: {tmp_path}: no migration files (.yaml, .yml, .json) in this folder "
        "(hint: give the folder that holds them, or the files themselves)"
    )


REFORMATTED = """\
# users moved to the new name in PR 123
description: a.x becomes a.x2
operations:
  - rename_column:
      table: a
      from: x
      to: x2
"""


def test_a_comment_or_reformatting_after_apply_is_not_a_change(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    _tables(db)
    path = tmp_path / "0001_a.yaml"
    path.write_text(RENAME)
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0
    path.write_text(REFORMATTED)
    res = zdm("--database-url", db_url, "apply", str(path))
    assert res.exit_code == 0, res.stderr
    assert "0001_a: already expanded" in res.stdout
    assert zdm("--database-url", db_url, "complete", "0001_a").exit_code == 0
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0


def test_a_real_change_after_apply_is_still_refused(db_url: str, db: Conn, tmp_path: Path) -> None:
    _tables(db)
    path = tmp_path / "0001_a.yaml"
    path.write_text(RENAME)
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0
    path.write_text(RENAME.replace("x2", "x3"))
    res = zdm("--database-url", db_url, "apply", str(path))
    assert res.exit_code == 2
    assert "changed after it was applied (phase expanded)" in res.stderr
    assert _phases(db) == [("0001_a", "expanded")]


def test_rows_stored_with_the_byte_hash_keep_working(db_url: str, db: Conn, tmp_path: Path) -> None:
    """A database where an older zdmigrate stored the hash of the file's bytes."""
    _tables(db)
    path = tmp_path / "0001_a.yaml"
    path.write_text(RENAME)
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0
    migration = parse_migration(RENAME, "0001_a", str(path))
    stored = db.execute("SELECT sha256 FROM zdmigrate.migrations").fetchone()
    assert stored == (migration.content_hash,)
    db.execute("UPDATE zdmigrate.migrations SET sha256 = %s", (migration.sha256,))
    same = zdm("--database-url", db_url, "apply", str(path))
    assert same.exit_code == 0 and "already expanded" in same.stdout, same.stderr
    path.write_text(REFORMATTED)  # reformatted: read from the stored text, still the same
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0
    path.write_text(RENAME.replace("x2", "x3"))
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 2
    assert zdm("--database-url", db_url, "complete", "0001_a").exit_code == 0


def test_a_missing_folder_is_named(db_url: str, tmp_path: Path) -> None:
    res = zdm("--database-url", db_url, "apply", str(tmp_path / "migratons"))
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        f"error: {tmp_path / 'migratons'}: no such file or folder "
        "(hint: give migration files or their folder)"
    )


def test_validate_takes_a_folder_too(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    res = zdm("validate", str(folder))
    assert res.exit_code == 0, res.stderr
    assert res.stdout.splitlines() == [
        f"{folder / '0001_a.yaml'}: ok (1 operation)",
        f"{folder / '0002_b.yaml'}: ok (1 operation)",
    ]
