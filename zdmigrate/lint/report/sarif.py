"""SARIF 2.1.0, as read by GitHub code scanning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from zdmigrate._version import __version__
from zdmigrate.lint._model import Finding, Rule, Severity
from zdmigrate.lint.result import LintResult

__all__ = ["SCHEMA_URI", "SRCROOT", "render", "repository_root"]

SRCROOT = "%SRCROOT%"

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


def repository_root(start: Path | None = None) -> Path:
    """The top folder of the git repository holding ``start`` (default: the working
    directory), found by its ``.git``; the working directory when there is none."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return here


def _artifact(path: str, root: Path) -> dict[str, Any]:
    """Where a finding is: relative to the repository root (``%SRCROOT%``) when it is
    under it, so code scanning places it whatever folder lint ran from."""
    if path.startswith("<"):  # <stdin>, <string>
        return {"uri": quote(path)}
    full = Path(path)
    full = (full if full.is_absolute() else Path.cwd() / full).resolve()
    try:
        relative = full.relative_to(root)
    except ValueError:
        return {"uri": full.as_uri()}
    return {"uri": quote(relative.as_posix()), "uriBaseId": SRCROOT}


def _result(f: Finding, index: dict[str, int], artifact: dict[str, Any]) -> dict[str, Any]:
    return {
        "ruleId": f.code,
        "ruleIndex": index[f.code],
        "level": _LEVELS[f.severity],
        "message": {"text": f"{f.message}. Fix: {f.help}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact,
                    "region": {"startLine": f.line, "startColumn": f.column},
                }
            }
        ],
    }


def render(result: LintResult) -> str:
    rules = list(result.rules)
    index = {r.code: i for i, r in enumerate(rules)}
    root = repository_root()
    artifacts = {path: _artifact(path, root) for path in {f.path for f in result.findings}}
    run = {
        "tool": {
            "driver": {
                "name": "zdmigrate",
                "version": __version__,
                "rules": [_rule(r) for r in rules],
            }
        },
        "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri() + "/"}},
        "results": [_result(f, index, artifacts[f.path]) for f in result.findings],
        "columnKind": "unicodeCodePoints",
    }
    doc = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc) + "\n"
