"""JSON for machines: every finding and a summary."""

from __future__ import annotations

import json
from typing import Any

from zdmigrate.lint.result import LintResult

__all__ = ["render"]


def render(result: LintResult) -> str:
    counts = result.counts()
    summary: dict[str, int] = {
        "files": result.files,
        "statements": result.statements,
        "findings": len(result.findings),
        **{sev.label: n for sev, n in sorted(counts.items())},
    }
    if result.incomplete:
        summary["not_linted"] = result.incomplete
    doc = {"findings": [f.to_json() for f in result.findings], "summary": summary}
    return _lines(doc) + "\n"


def _lines(doc: dict[str, Any]) -> str:
    """One finding per line: readable, and fast (the C encoder runs without indent)."""
    items = ",\n  ".join(json.dumps(f) for f in doc["findings"])
    findings = f"[\n  {items}\n]" if items else "[]"
    return f'{{"findings": {findings},\n"summary": {json.dumps(doc["summary"])}}}'
