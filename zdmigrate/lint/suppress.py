"""Suppression comments: ``-- zdmigrate: ignore rule[, rule] [reason]``.

A comment on a statement's first line, or on the line before it, ignores
the named rules (codes or names, or ``all``) for that statement. The form
``-- zdmigrate: ignore-file rule[, rule]`` anywhere in a file ignores them in
the whole file. Alembic scripts use ``#`` instead of ``--``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Suppressions", "parse_suppressions"]

_MARK = "zdmigrate:"
_PATTERN = re.compile(
    r"(?:--|#)\s*zdmigrate:\s*(ignore-file|ignore)\s+"
    r"((?:[A-Za-z0-9-]+)(?:\s*,\s*[A-Za-z0-9-]+)*)"
)


@dataclass
class Suppressions:
    """Rule selectors ignored by line, and for the whole file."""

    by_line: dict[int, set[str]] = field(default_factory=dict)
    whole_file: set[str] = field(default_factory=set)

    def ignores(self, line: int, code: str, name: str) -> bool:
        keys = {code.lower(), name, "all"}
        if keys & self.whole_file:
            return True
        return any(keys & self.by_line.get(n, set()) for n in (line, line - 1))


def parse_suppressions(text: str) -> Suppressions:
    """Find the suppression comments of a SQL file or Python script."""
    found = Suppressions()
    if _MARK not in text:
        return found
    for number, line in enumerate(text.splitlines(), start=1):
        if _MARK not in line:
            continue
        match = _PATTERN.search(line)
        if match is None:
            continue
        selectors = {s.strip().lower() for s in match.group(2).split(",")}
        if match.group(1) == "ignore-file":
            found.whole_file |= selectors
        else:
            found.by_line.setdefault(number, set()).update(selectors)
    return found
