"""``zdmigrate lint``: parse options, lint, render, exit 0 / 1 / 2.

Lint runs in CI and in pre-commit hooks on every commit, so its start-up time
is part of every run. This module imports neither typer, rich nor pydantic:
the console script (:mod:`zdmigrate.cli.main`) sends ``zdmigrate [global
options] lint ...`` here directly, and the typer app's ``lint`` command passes
its arguments through, so both ways parse the same options with the same code.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from zdmigrate.errors import ConfigError, ZdmError

if TYPE_CHECKING:
    from zdmigrate.lint import LintResult, LintSettings

__all__ = ["SUMMARY", "LintGlobals", "build_parser", "run"]

SUMMARY = "Find migrations that break the running app or take long, strong locks."

EXAMPLES = """\
Exit 0 when clean, 1 on findings at or above --fail-on, 2 on bad input.

Examples:

  zdmigrate lint migrations/            # every .sql file, by file name
  zdmigrate lint alembic/ --format github
  zdmigrate lint migrations/0042_orders.sql --database-url $URL --fail-on error
"""

FORMATS = ("text", "json", "sarif", "github")
SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True)
class LintGlobals:
    """What the options before ``lint`` say (``zdmigrate --config F lint ...``)."""

    database_url: str | None = None
    config: Path | None = None
    show_traceback: bool = False


# the defaults --help shows (argparse's own are None where a pyproject setting may decide)
SHOWN_DEFAULTS = {
    "fmt": "text",
    "fail_on": "warning",
    "pg_version": "15",
    "jobs": "0",
    "in_transaction": "--no-transaction",
}


class _Parser(argparse.ArgumentParser):
    """Bad options are one line and exit 2, like every other zdmigrate error; --help
    looks like every other command's."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"zdmigrate lint: {message}", "see zdmigrate lint --help")

    def format_help(self) -> str:
        from zdmigrate.cli._panels import render_help

        actions = [a for a in self._actions if a.dest != "in_transaction" or a.const is True]
        return render_help(
            self.prog, self.description or "", self.epilog or "", actions, SHOWN_DEFAULTS
        )


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def _pg_version(text: str) -> int:
    value = _whole(text)
    if not 9 <= value <= 99:
        raise argparse.ArgumentTypeError(f"{value} is not a PostgreSQL major version (9-99)")
    return value


def _jobs(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError("give 0 (one per core) or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The options of ``zdmigrate lint``."""
    p = _Parser(
        prog="zdmigrate lint",
        description=SUMMARY,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="SQL files, folders, Alembic projects or revision scripts, zdmigrate "
        "migration files, or - for standard input",
    )
    p.add_argument(
        "-f",
        "--format",
        dest="fmt",
        choices=FORMATS,
        default="text",
        help="output format: text for people, json, sarif (code scanning) or github (annotations)",
    )
    p.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        help="exit 1 on findings at or above this severity",
    )
    p.add_argument(
        "--pg-version",
        type=_pg_version,
        metavar="N",
        help="target server major version",
    )
    p.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="RULE",
        help="also enable this rule (code, name or 'all'); repeatable",
    )
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="RULE",
        help="disable this rule (code or name); repeatable",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip paths matching this glob; repeatable",
    )
    wrap = p.add_mutually_exclusive_group()
    wrap.add_argument(
        "--in-transaction",
        dest="in_transaction",
        action="store_true",
        default=None,
        help="your runner wraps each SQL file in a transaction, or --no-transaction: it "
        "does not (Alembic revisions are always wrapped)",
    )
    wrap.add_argument(
        "--no-transaction",
        dest="in_transaction",
        action="store_false",
        help="it does not (the default for plain SQL; Alembic revisions are always wrapped)",
    )
    p.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL URL to read table sizes, types and grants from (read-only); the "
        "global option before 'lint' too. Lint reads no environment variable: without it, "
        "it works offline",
    )
    p.add_argument(
        "--schema-file",
        metavar="FILE",
        help="plan migration files against this schema: pg_dump --schema-only output or a "
        "'zdmigrate snapshot' file (default: what the earlier migration files create)",
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=0,
        metavar="N",
        help="processes for large inputs; 0: one per core",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 when any revision (or part of one) could not be rendered and linted "
        "(default: only when nothing could be linted)",
    )
    p.add_argument("--explain", metavar="RULE", help="print the documentation of a rule and exit")
    p.add_argument("--list-rules", action="store_true", help="list every rule and exit")
    p.add_argument("-h", "--help", action="help", help="show this message and exit")
    return p


def _settings(config: Path | None, args: argparse.Namespace) -> LintSettings:
    from zdmigrate._pyproject import find_pyproject
    from zdmigrate.lint import Severity, load_lint_settings

    return load_lint_settings(config or find_pyproject()).with_flags(
        select=tuple(args.select),
        ignore=tuple(args.ignore),
        exclude=tuple(args.exclude),
        pg_version=args.pg_version,
        fail_on=Severity.parse(args.fail_on) if args.fail_on else None,
        assume_in_transaction=args.in_transaction,
        schema_file=args.schema_file,
    )


def _explain(rule: str) -> None:
    from zdmigrate.lint import find_rule
    from zdmigrate.lint.docs import rule_page

    sys.stdout.write(rule_page(find_rule(rule)))


def _list_rules() -> None:
    from zdmigrate.lint import all_rules

    for r in all_rules():
        default = "" if r.enabled_by_default else "  (off by default)"
        sys.stdout.write(f"{r.code}  {r.name:<36} {r.severity.label:<8}{r.summary}{default}\n")


def _color(fmt: str) -> bool:
    return fmt == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _width() -> int:
    """The terminal's width (or $COLUMNS); 120 when the report goes to a file or a pipe."""
    if "COLUMNS" in os.environ or sys.stdout.isatty():
        import shutil

        return max(40, shutil.get_terminal_size((120, 24)).columns)
    return 120


def _lint(argv: list[str], glob: LintGlobals) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help printed
        return int(done.code or 0)
    if args.explain is not None:
        _explain(args.explain)
        return 0
    if args.list_rules:
        _list_rules()
        return 0
    if not args.paths:
        raise ConfigError("no paths to lint", "give .sql files, folders, Alembic projects or -")
    from dataclasses import replace

    from zdmigrate._imports import paused_gc

    with paused_gc():
        from zdmigrate.lint import lint_paths
        from zdmigrate.lint.report import render

    settings = _settings(glob.config, args)
    url = args.database_url or glob.database_url
    result = replace(
        lint_paths(args.paths, settings, url, jobs=args.jobs),
        color=_color(args.fmt),
        width=_width(),
    )
    sys.stdout.write(render(result, args.fmt))
    _check_coverage(result, args.strict)
    return 1 if result.failed(settings.fail_on) else 0


def _check_coverage(result: LintResult, strict: bool) -> None:
    """Exit 2 (after the report) when nothing could be linted, or, with --strict, any part."""
    why = "the not-linted findings in the report say why"
    if result.nothing_linted:
        what = "the revision" if result.files == 1 else f"none of the {result.files} revisions"
        raise ConfigError(f"nothing could be linted: {what} could be imported and rendered", why)
    if strict and result.incomplete:
        many = "s" if result.incomplete != 1 else ""
        raise ConfigError(f"{result.incomplete} revision{many} not linted in full (--strict)", why)


def run(argv: list[str], glob: LintGlobals | None = None) -> int:
    """``zdmigrate lint ARGV``: the exit code; an error is one line on stderr."""
    glob = glob or LintGlobals()
    try:
        return _lint(argv, glob)
    except ZdmError as exc:
        from zdmigrate.redact import redact

        if glob.show_traceback:
            traceback.print_exc()
        sys.stderr.write(f"error: {redact(exc.one_line())}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
