"""The objects handed between the lint layers: rules, violations, findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zdmigrate.lint.violation import Severity, Violation

if TYPE_CHECKING:
    from zdmigrate.lint._context import Context
    from zdmigrate.lint.source import Statement

__all__ = ["Category", "Finding", "Rule", "Severity", "Violation"]


class Category:
    SYNTAX = "syntax"
    BREAKING = "breaking"
    LOCKING = "locking"
    STYLE = "style"


Check = Callable[["Statement", "Context"], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    """One lint rule. Its module docstring is its documentation."""

    code: str
    name: str
    summary: str
    category: str
    severity: Severity
    check: Check
    node_types: tuple[str, ...]
    doc: str
    enabled_by_default: bool = True

    def matches(self, selector: str) -> bool:
        return selector.lower() in (self.code.lower(), self.name)


@dataclass(frozen=True)
class Finding:
    """A violation placed in a file: what users and reporters see."""

    code: str
    rule: str
    severity: Severity
    message: str
    help: str
    path: str
    line: int
    column: int
    source_line: str = ""

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.code)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "rule": self.rule,
            "severity": self.severity.label,
            "message": self.message,
            "help": self.help,
            "path": self.path,
            "line": self.line,
            "column": self.column,
        }
        return data
