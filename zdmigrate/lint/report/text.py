"""Text for people: location, rule, message, the source line, and the fix."""

from __future__ import annotations

from zdmigrate.lint._model import Finding, Severity
from zdmigrate.lint.result import LintResult

__all__ = ["render"]

_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}
ELLIPSIS = "\u2026"


def clip(line: str, column: int, width: int) -> tuple[str, int]:
    """At most ``width`` characters of ``line`` around ``column``, an ellipsis where cut;
    and the column of the same character in what is shown."""
    if len(line) <= width or width < 8:
        return line, column
    start = 0 if column <= width * 2 // 3 else column - 1 - width // 3
    start = min(start, len(line) - width)
    end = start + width
    head = ELLIPSIS if start > 0 else ""
    tail = ELLIPSIS if end < len(line) else ""
    return head + line[start + len(head) : end - len(tail)] + tail, column - start


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def _one(f: Finding, color: bool, width: int) -> str:
    level = _paint(f.severity.label, _COLORS[f.severity], color)
    head = (
        f"{f.path}:{f.line}:{f.column}: {level} {_paint(f.code, '1', color)} {f.rule}: {f.message}"
    )
    lines = [head]
    if f.source_line:
        gutter = str(f.line)
        room = width - len(gutter) - 5
        shown, column = clip(f.source_line.rstrip(), f.column, room)
        lines.append(f"  {gutter} | {shown}")
        lines.append(f"  {' ' * len(gutter)} | {' ' * (column - 1)}^")
    lines.append(f"  help: {f.help}")
    return "\n".join(lines)


def render(result: LintResult) -> str:
    blocks = [_one(f, result.color, result.width) for f in result.findings]
    blocks.append(result.summary_line())
    return "\n\n".join(blocks) + "\n"
