"""GitHub Actions workflow commands: one annotation per finding."""

from __future__ import annotations

from zdmigrate.lint._model import Finding, Severity
from zdmigrate.lint.result import LintResult

__all__ = ["render"]

_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _one(f: Finding) -> str:
    props = ",".join(
        [
            f"file={_prop(f.path)}",
            f"line={f.line}",
            f"col={f.column}",
            f"title={_prop(f'{f.code} {f.rule}')}",
        ]
    )
    return f"::{_LEVELS[f.severity]} {props}::{_data(f.message + chr(10) + 'help: ' + f.help)}"


def render(result: LintResult) -> str:
    lines = [_one(f) for f in result.findings]
    lines.append(result.summary_line())
    return "\n".join(lines) + "\n"
