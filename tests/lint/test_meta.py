"""Every rule has a code, a name, its docs, its cases and a snapshot; docs/rules is current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.lint.cases import CASES, SNAPSHOTS, load_cases
from zdmigrate.lint import Rule, all_rules
from zdmigrate.lint.docs import SECTIONS, expected_pages
from zdmigrate.spec import parse_migration

RULES = all_rules()
DOCS = Path(__file__).parents[2] / "docs" / "rules"
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def test_codes_and_names_are_unique_and_well_formed() -> None:
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)
    for rule in RULES:
        assert re.fullmatch(r"ZD\d{3}", rule.code), rule.code
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name), rule.name


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_has_docs(rule: Rule) -> None:
    assert rule.summary.endswith("."), f"{rule.name}: the first docstring line is its summary"
    for heading in SECTIONS:
        assert f"\n{heading}\n" in rule.doc, f"{rule.name}: docstring lacks '{heading}'"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_docs_show_a_valid_zdmigrate_migration(rule: Rule) -> None:
    safe = rule.doc.split("## Safe alternative", 1)[1]
    blocks = YAML_BLOCK.findall(safe)
    assert blocks, f"{rule.name}: the safe alternative needs a zdmigrate migration example"
    for block in blocks:
        parse_migration(block, rule.name, f"docs of {rule.name}")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_has_cases_and_snapshot(rule: Rule) -> None:
    assert (CASES / f"{rule.name}.yaml").is_file(), f"{rule.name}: no cases file"
    cases = load_cases(rule.name)
    assert cases["fail"], f"{rule.name}: no failing case"
    assert cases["pass"], f"{rule.name}: no passing case"
    assert (SNAPSHOTS / f"{rule.name}.txt").is_file(), f"{rule.name}: no snapshot"


def test_every_cases_file_belongs_to_a_rule() -> None:
    names = {r.name for r in RULES}
    for path in CASES.glob("*.yaml"):
        assert path.stem in names, f"{path.name} names no rule"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(data) <= {"fail", "pass"}, path.name


def test_checked_in_docs_match_the_generator() -> None:
    expected = expected_pages()
    present = {p.name for p in DOCS.glob("*.md")}
    assert present == set(expected), "run: python -m zdmigrate.lint.docs docs/rules"
    for name, text in expected.items():
        assert (DOCS / name).read_text(encoding="utf-8") == text, (
            f"docs/rules/{name} is stale: run python -m zdmigrate.lint.docs docs/rules"
        )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_node_types_are_parser_node_types(rule: Rule) -> None:
    from pglast import ast
    from pglast.enums import AlterTableType

    if rule.code == "ZD001":
        return
    for key in rule.node_types:
        tag, _, subtype = key.partition(":")
        assert isinstance(getattr(ast, tag, None), type), f"{rule.name}: no node type {tag}"
        if subtype:
            assert tag == "AlterTableStmt" and subtype in AlterTableType.__members__, key
