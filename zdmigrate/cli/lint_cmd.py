"""``zdmigrate lint``: parse options, lint, render, exit 0 / 1 / 2."""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from zdmigrate.cli.context import CliState, run_command

if TYPE_CHECKING:
    from zdmigrate.lint import LintSettings

__all__ = ["register"]


class LintFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class FailOn(str, Enum):
    info = "info"
    warning = "warning"
    error = "error"


EXAMPLES = """Examples:

  zdmigrate lint migrations/            # every .sql file, by file name

  zdmigrate lint alembic/ --format github

  zdmigrate --database-url $URL lint migrations/0042_orders.sql --fail-on error
"""


def _settings(state: CliState, flags: dict[str, object]) -> LintSettings:
    from zdmigrate._pyproject import find_pyproject
    from zdmigrate.lint import load_lint_settings

    return load_lint_settings(state.config or find_pyproject()).with_flags(**flags)


def _explain(rule: str) -> None:
    from zdmigrate.lint import find_rule
    from zdmigrate.lint.docs import rule_page

    sys.stdout.write(rule_page(find_rule(rule)))


def _list_rules() -> None:
    from zdmigrate.lint import all_rules

    for r in all_rules():
        default = "" if r.enabled_by_default else "  (off by default)"
        sys.stdout.write(f"{r.code}  {r.name:<36} {r.severity.label:<8}{r.summary}{default}\n")


def _color(fmt: LintFormat) -> bool:
    return fmt is LintFormat.text and sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _lint(
    state: CliState, paths: list[str], fmt: LintFormat, url: str | None, flags: dict[str, object]
) -> int:
    from dataclasses import replace

    from zdmigrate.errors import ConfigError
    from zdmigrate.lint import lint_paths
    from zdmigrate.lint.report import render

    if not paths:
        raise ConfigError("no paths to lint", "give .sql files, folders, Alembic projects or -")
    settings = _settings(state, flags)
    result = replace(lint_paths(paths, settings, url), color=_color(fmt))
    sys.stdout.write(render(result, fmt.value))
    return 1 if result.failed(settings.fail_on) else 0


def lint(
    ctx: typer.Context,
    paths: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional on 3.10
        typer.Argument(help="SQL files, folders, Alembic projects or revision scripts, or -."),
    ] = None,
    fmt: Annotated[
        LintFormat, typer.Option("--format", "-f", help="text, json, sarif (2.1.0) or github.")
    ] = LintFormat.text,
    fail_on: Annotated[
        Optional[FailOn],  # noqa: UP045
        typer.Option(
            "--fail-on",
            help="Exit 1 on findings at or above this severity.",
            show_default="warning",
        ),
    ] = None,
    pg_version: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--pg-version", min=9, max=99, help="Target server major version.", show_default="15"
        ),
    ] = None,
    select: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--select", help="Also enable this rule (code, name or 'all'); repeatable."),
    ] = None,
    ignore: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--ignore", help="Disable this rule (code or name); repeatable."),
    ] = None,
    exclude: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--exclude", help="Skip paths matching this glob; repeatable."),
    ] = None,
    in_transaction: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--in-transaction/--no-transaction",
            help="Whether your runner wraps each SQL file in a transaction.",
            show_default="no",
        ),
    ] = None,
    database_url: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--database-url",
            help="Read table sizes and types from this database.",
            show_default=False,
        ),
    ] = None,
    explain: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--explain", help="Print the documentation of a rule and exit."),
    ] = None,
    list_rules: Annotated[
        bool, typer.Option("--list-rules", help="List every rule and exit.")
    ] = False,
) -> None:
    """Find migrations that break the running app or take long, strong locks.

    Exit 0 when clean, 1 on findings at or above --fail-on, 2 on bad input.
    """
    state: CliState = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
    if explain is not None or list_rules:
        run_command(ctx, lambda: _explain(explain) if explain is not None else _list_rules())
        return
    flags: dict[str, object] = {
        "select": tuple(select or ()),
        "ignore": tuple(ignore or ()),
        "exclude": tuple(exclude or ()),
        "pg_version": pg_version,
        "fail_on": None,
        "assume_in_transaction": in_transaction,
    }
    if fail_on is not None:
        from zdmigrate.lint import Severity

        flags["fail_on"] = Severity.parse(fail_on.value)
    url = database_url or state.database_url
    code = run_command(ctx, lambda: _lint(state, list(paths or []), fmt, url, flags))
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add the ``lint`` command to ``app``."""
    app.command(name="lint", epilog=EXAMPLES)(lint)
