"""One call that lints paths with settings: what the CLI and tests use."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from zdmigrate.lint._context import Options
from zdmigrate.lint.inputs import collect_sources
from zdmigrate.lint.registry import select_rules
from zdmigrate.lint.result import LintResult
from zdmigrate.lint.runner import lint_sources
from zdmigrate.lint.settings import LintSettings
from zdmigrate.lint.source import Source

__all__ = ["lint_paths", "lint_text"]

NOT_LINTED = "ZD002"


def _run(
    sources: list[Source], settings: LintSettings, database_url: str | None, jobs: int = 1
) -> LintResult:
    rules = select_rules(list(settings.select), list(settings.ignore))
    options = Options(settings.pg_version, settings.assume_in_transaction)
    if settings.schema_file is not None:
        options = replace(options, schema=_schema_file(settings))
    if database_url is None:
        return lint_sources(sources, rules, options, jobs)
    from zdmigrate.lint.dbfacts import DbFacts

    db = DbFacts(database_url)
    try:
        return lint_sources(sources, rules, replace(options, db=db))
    finally:
        db.close()


def _schema_file(settings: LintSettings) -> Any:
    """What ``--schema-file`` says of the tables (column types, NOT NULL columns)."""
    from zdmigrate.lint._known import from_catalog
    from zdmigrate.model.snapshot import load_schema_file

    assert settings.schema_file is not None
    return from_catalog(load_schema_file(settings.schema_file, settings.schema))


def lint_paths(
    paths: list[str], settings: LintSettings, database_url: str | None = None, jobs: int = 0
) -> LintResult:
    """Lint files, folders, Alembic projects and ``-`` (stdin), in the order given.

    ``jobs``: processes for large inputs (0: one per core; 1: this process only).
    The findings are the same whatever it is.
    """
    sources = list(collect_sources(paths, settings, database_url))
    result = _run(sources, settings, database_url, jobs)
    incomplete = sum(1 for s in sources if any(p.rule == NOT_LINTED for p in s.problems))
    return replace(result, unlinted=sum(1 for s in sources if not s.linted), incomplete=incomplete)


def lint_text(
    sql: str,
    settings: LintSettings | None = None,
    database_url: str | None = None,
    path: str = "<string>",
) -> LintResult:
    """Lint one SQL text."""
    return _run([Source(path, sql)], settings or LintSettings(), database_url)
