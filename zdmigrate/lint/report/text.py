"""Text for people: location, rule, message, the source line, and the fix."""

from __future__ import annotations

from zdmigrate.lint._model import Finding, Severity
from zdmigrate.lint.result import LintResult

__all__ = ["render"]

_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def _one(f: Finding, color: bool) -> str:
    level = _paint(f.severity.label, _COLORS[f.severity], color)
    head = (
        f"{f.path}:{f.line}:{f.column}: {level} {_paint(f.code, '1', color)} {f.rule}: {f.message}"
    )
    lines = [head]
    if f.source_line:
        gutter = str(f.line)
        lines.append(f"  {gutter} | {f.source_line.rstrip()}")
        lines.append(f"  {' ' * len(gutter)} | {' ' * (f.column - 1)}^")
    lines.append(f"  help: {f.help}")
    return "\n".join(lines)


def render(result: LintResult) -> str:
    blocks = [_one(f, result.color) for f in result.findings]
    blocks.append(result.summary_line())
    return "\n\n".join(blocks) + "\n"
