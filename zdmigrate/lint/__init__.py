"""``zdmigrate lint``: find breaking and lock-heavy statements in migrations.

The parser front end (pglast) turns sources into statements; the runner
walks them in order with a context (new objects, transactions, settings, an
optional database) and runs one module per rule; reporters render findings.
"""

from zdmigrate.lint._model import Finding, Rule, Severity
from zdmigrate.lint.api import lint_paths, lint_text
from zdmigrate.lint.registry import all_rules, find_rule
from zdmigrate.lint.result import LintResult
from zdmigrate.lint.settings import LintSettings, load_lint_settings

__all__ = [
    "Finding",
    "LintResult",
    "LintSettings",
    "Rule",
    "Severity",
    "all_rules",
    "find_rule",
    "lint_paths",
    "lint_text",
    "load_lint_settings",
]
