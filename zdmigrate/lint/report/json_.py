"""JSON for machines: every finding and a summary."""

from __future__ import annotations

import json

from zdmigrate.lint.result import LintResult

__all__ = ["render"]


def render(result: LintResult) -> str:
    counts = result.counts()
    doc = {
        "findings": [f.to_json() for f in result.findings],
        "summary": {
            "files": result.files,
            "statements": result.statements,
            "findings": len(result.findings),
            **{sev.label: n for sev, n in sorted(counts.items())},
        },
    }
    return json.dumps(doc, indent=2) + "\n"
