"""SARIF 2.1.0, as read by GitHub code scanning."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from zdmigrate._version import __version__
from zdmigrate.lint._model import Finding, Rule, Severity
from zdmigrate.lint.result import LintResult

__all__ = ["SCHEMA_URI", "render"]

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": rule.summary, "markdown": rule.doc},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {"tags": [rule.category]},
    }


def _uri(path: str) -> str:
    return quote(path.replace("\\", "/").removeprefix("./"))


def _result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    return {
        "ruleId": f.code,
        "ruleIndex": index[f.code],
        "level": _LEVELS[f.severity],
        "message": {"text": f"{f.message}. Fix: {f.help}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f.path)},
                    "region": {"startLine": f.line, "startColumn": f.column},
                }
            }
        ],
    }


def render(result: LintResult) -> str:
    rules = list(result.rules)
    index = {r.code: i for i, r in enumerate(rules)}
    run = {
        "tool": {
            "driver": {
                "name": "zdmigrate",
                "version": __version__,
                "rules": [_rule(r) for r in rules],
            }
        },
        "results": [_result(f, index) for f in result.findings],
        "columnKind": "unicodeCodePoints",
    }
    doc = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc) + "\n"
