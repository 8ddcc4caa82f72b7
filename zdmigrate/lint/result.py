"""The result of a lint run, as reporters see it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from zdmigrate.lint._model import Finding, Rule, Severity

__all__ = ["LintResult"]


@dataclass(frozen=True)
class LintResult:
    """``unlinted``: sources none of which could be read (a revision that does not
    import); ``incomplete``: sources of which some part was not linted, those included."""

    findings: tuple[Finding, ...]
    rules: tuple[Rule, ...]
    files: int
    statements: int
    color: bool = False
    width: int = 120  # of the text report's source lines (the terminal's, when on one)
    unlinted: int = 0
    incomplete: int = 0

    @property
    def nothing_linted(self) -> bool:
        return self.files > 0 and self.unlinted >= self.files

    def counts(self) -> Counter[Severity]:
        return Counter(f.severity for f in self.findings)

    def failed(self, fail_on: Severity) -> bool:
        return any(f.severity >= fail_on for f in self.findings)

    def summary_line(self) -> str:
        counts = self.counts()
        parts = [
            f"{counts[s]} {s.label}{'s' if counts[s] != 1 else ''}"
            for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)
            if counts[s]
        ]
        files = f"{self.files} file{'s' if self.files != 1 else ''}"
        scope = f"{files}, {self.statements} statement{'s' if self.statements != 1 else ''}"
        if self.incomplete:
            scope += f", {self.incomplete} not linted in full"
        if not parts:
            return f"no problems ({scope})"
        total = len(self.findings)
        return f"{total} problem{'s' if total != 1 else ''}: {', '.join(parts)} ({scope})"
