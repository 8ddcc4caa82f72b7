"""SARIF 2.1.0 and the other machine formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lint import sarif_schema
from tests.lint.helpers import ALEMBIC_PROJECT, lint, write
from zdmigrate.lint import all_rules

MIXED = "ALTER TABLE users DROP COLUMN legacy;\nCREATE INDEX i ON orders (x);\nSELECT FROM WHERE;\n"


def test_sarif_is_valid_and_complete(tmp_path: Path) -> None:
    path = write(tmp_path, "with space.sql", MIXED)
    res = lint(path, "--format", "sarif")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    sarif_schema.check(doc)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.code for r in all_rules() if r.enabled_by_default]
    results = run["results"]
    assert {r["ruleId"] for r in results} == {"ZD101", "ZD213", "ZD201", "ZD001"}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.endswith("with%20space.sql")


def test_sarif_of_a_clean_run_has_no_results(tmp_path: Path) -> None:
    doc = json.loads(lint(write(tmp_path, "ok.sql", "SELECT 1;\n"), "--format", "sarif").stdout)
    sarif_schema.check(doc)
    assert doc["runs"][0]["results"] == []


def test_sarif_for_alembic_points_at_scripts() -> None:
    doc = json.loads(lint(str(ALEMBIC_PROJECT), "--format", "sarif").stdout)
    sarif_schema.check(doc)
    regions = [
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
        for r in doc["runs"][0]["results"]
    ]
    assert regions == [12, 13, 13, 11]


def test_the_schema_check_rejects_what_the_schema_rejects() -> None:
    good = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": []}]}
    sarif_schema.check(good)
    bad_level = json.loads(json.dumps(good))
    bad_level["runs"][0]["results"] = [{"message": {"text": "m"}, "level": "fatal"}]
    extra = json.loads(json.dumps(good))
    extra["runs"][0]["tool"]["driver"]["colour"] = "red"
    for doc in (bad_level, extra, {"version": "2.1.0"}):
        with pytest.raises(AssertionError):
            sarif_schema.check(doc)


def test_github_annotations_escape_newlines_and_commas(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b.sql", "ALTER TABLE users DROP COLUMN legacy;\n")
    out = lint(path, "--format", "github", "--ignore", "ZD213").stdout.splitlines()
    assert out[0].startswith("::error file=") and "a%2Cb.sql" in out[0]
    assert "\n" not in out[0]
    assert out[-1] == "1 problem: 1 error (1 file, 1 statement)"
