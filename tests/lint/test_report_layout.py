"""Where reports put things: SARIF paths from the repository root, long lines cut."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.lint import sarif_schema
from tests.lint.helpers import lint, write

DROP = "ALTER TABLE users DROP COLUMN legacy;"


def _locations(doc: dict[str, object]) -> list[dict[str, str]]:
    run = doc["runs"][0]  # type: ignore[index]
    return [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"]]


def test_sarif_paths_are_relative_to_the_git_root_when_run_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    migrations = repo / "services" / "billing" / "migrations"
    migrations.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    write(migrations, "0001 drop.sql", DROP + "\n")
    monkeypatch.chdir(repo / "services" / "billing")
    res = lint("migrations", "--format", "sarif", "--ignore", "ZD213")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    sarif_schema.check(doc)
    assert _locations(doc) == [
        {"uri": "services/billing/migrations/0001%20drop.sql", "uriBaseId": "%SRCROOT%"}
    ]
    bases = doc["runs"][0]["originalUriBaseIds"]
    assert bases == {"%SRCROOT%": {"uri": repo.resolve().as_uri() + "/"}}


def test_sarif_without_a_repository_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "m").mkdir()
    write(tmp_path / "m", "0001.sql", DROP + "\n")
    if any((p / ".git").exists() for p in tmp_path.parents):
        pytest.skip("the temporary folder is inside a git repository")
    monkeypatch.chdir(tmp_path)
    doc = json.loads(lint("m/0001.sql", "--format", "sarif", "--ignore", "ZD213").stdout)
    assert _locations(doc) == [{"uri": "m/0001.sql", "uriBaseId": "%SRCROOT%"}]


def _shown(out: str, line: int) -> tuple[str, str]:
    """The source line and the caret line under it, gutter removed."""
    lines = out.splitlines()
    at = next(i for i, t in enumerate(lines) if t.startswith(f"  {line} | "))
    return lines[at].split(" | ", 1)[1], lines[at + 1].split(" | ", 1)[1]


def test_a_long_source_line_is_cut_with_an_ellipsis(tmp_path: Path) -> None:
    path = write(tmp_path, "long.sql", DROP + " -- " + "note " * 100 + "\n")
    res = lint(path, "--ignore", "ZD213")
    shown, caret = _shown(res.stdout, 1)
    assert shown.startswith(DROP) and shown.endswith("\u2026")
    assert len(f"  1 | {shown}") == 120
    assert caret == "^"


def test_the_cut_keeps_the_column_of_the_finding_in_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    path = write(tmp_path, "one_line.sql", "SELECT 1; " * 40 + DROP + " SELECT 2;" * 20 + "\n")
    res = lint(path, "--ignore", "ZD213")
    assert f"{path}:1:401: error ZD101 drop-column" in res.stdout
    shown, caret = _shown(res.stdout, 1)
    assert shown.startswith("\u2026") and shown.endswith("\u2026")
    assert len(f"  1 | {shown}") == 80
    assert shown[len(caret) - 1 :].startswith("ALTER TABLE users DROP COLUMN")


def test_short_lines_are_shown_whole(tmp_path: Path) -> None:
    res = lint(write(tmp_path, "m.sql", DROP + "\n"), "--ignore", "ZD213")
    assert _shown(res.stdout, 1) == (DROP, "^")
