"""The console script. ``zdmigrate lint`` goes straight to its module.

Every other command loads the typer app. Lint runs on every commit in CI and
pre-commit hooks, and importing typer (with pydantic) and rich costs more than
linting a file, so ``zdmigrate [global options] lint ...`` skips them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import NoReturn

from zdmigrate.cli.lint_cmd import LintGlobals, run

__all__ = ["main"]

_VALUED = ("--database-url", "--config")


def lint_invocation(argv: list[str]) -> tuple[LintGlobals, list[str]] | None:
    """(the global options, lint's arguments) when ``argv`` runs lint; else None.

    Anything this does not recognise before the command (``--help``,
    ``--version``, a typo) is left to the typer app, which explains it.
    """
    url: str | None = None
    config: Path | None = None
    show_traceback = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in _VALUED:
            if not eq:
                if i + 1 >= len(argv):
                    return None
                i += 1
                value = argv[i]
            if name == "--database-url":
                url = value
            else:
                config = Path(value)
        elif arg == "--traceback":
            show_traceback = True
        elif arg == "--embedded":
            pass  # lint starts no server; its database is --database-url
        elif arg == "lint":
            return LintGlobals(url, config, show_traceback), argv[i + 1 :]
        else:
            return None
        i += 1
    return None


def _exit_now(code: int) -> NoReturn:
    """End the process without tearing the interpreter down.

    After linting Alembic revisions, Python frees every module and object of
    Alembic and SQLAlchemy at exit: about 0.2 s, as long as importing them, in
    a command that takes well under a second on one revision. Lint's output is
    all written by now (flushed here), and it registers no exit handlers.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> None:
    """The console script; ``argv`` (default: the process's) for tests."""
    args = sys.argv[1:] if argv is None else list(argv)
    found = lint_invocation(args)
    if found is not None:
        glob, rest = found
        code = run(rest, glob)
        if argv is None and "sqlalchemy" in sys.modules:  # Alembic revisions were read
            _exit_now(code)
        sys.exit(code)
    from zdmigrate.cli.app import app

    if argv is None:
        app()
    else:
        app(args)
