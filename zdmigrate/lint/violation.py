"""What a rule reports, and how bad it is: plain data, importing nothing of lint."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["Severity", "Violation"]


class Severity(IntEnum):
    """How bad a finding is; ``--fail-on`` compares against this order."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True)
class Violation:
    """What a rule reports: the problem and the fix, at an optional offset."""

    message: str
    help: str
    offset: int | None = None
    severity: Severity | None = None
