"""Every rule against its failing and passing cases, and its text output against a snapshot."""

from __future__ import annotations

import os

import pytest

from tests.lint.cases import SNAPSHOTS, Case, all_cases, snapshot_text
from zdmigrate.lint import all_rules

CASES = all_cases()


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "fail"], ids=lambda c: c.id)
def test_failing_case_is_reported(case: Case) -> None:
    assert case.hits(), f"{case.rule} did not fire on:\n{case.sql}"


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "pass"], ids=lambda c: c.id)
def test_passing_case_is_clean(case: Case) -> None:
    assert not case.hits(), f"{case.rule} fired on:\n{case.sql}"


@pytest.mark.parametrize("name", [r.name for r in all_rules()])
def test_text_output_matches_snapshot(name: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    actual = snapshot_text(name)
    if os.environ.get("ZDMIGRATE_UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.is_file(), f"no snapshot for {name}: run with ZDMIGRATE_UPDATE_SNAPSHOTS=1"
    assert actual == path.read_text(encoding="utf-8")
