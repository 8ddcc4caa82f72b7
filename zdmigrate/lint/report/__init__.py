"""Reporters: findings rendered as text, JSON, SARIF 2.1.0 or GitHub annotations."""

from __future__ import annotations

from collections.abc import Callable

from zdmigrate.lint.report import github, json_, sarif, text
from zdmigrate.lint.result import LintResult

__all__ = ["FORMATS", "LintResult", "render"]

FORMATS: dict[str, Callable[[LintResult], str]] = {
    "text": text.render,
    "json": json_.render,
    "sarif": sarif.render,
    "github": github.render,
}


def render(result: LintResult, fmt: str) -> str:
    return FORMATS[fmt](result)
