"""Turn the paths given on the command line into sources, in the order they run."""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zdmigrate.errors import ConfigError
from zdmigrate.lint.settings import LintSettings
from zdmigrate.lint.source import Source
from zdmigrate.lint.zdm_files import SUFFIXES, is_migration_file, migration_source

__all__ = ["collect_sources", "is_alembic_project"]


def is_alembic_project(path: Path) -> bool:
    """A folder holding ``alembic.ini``, or ``env.py`` beside ``versions/``."""
    return (path / "alembic.ini").is_file() or (
        (path / "env.py").is_file() and (path / "versions").is_dir()
    )


def _excluded(path: Path, patterns: tuple[str, ...], root: Path) -> bool:
    if not patterns:
        return False
    try:
        shown = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = path.as_posix()
    return any(
        fnmatch.fnmatch(shown, pat) or fnmatch.fnmatch(path.as_posix(), pat) for pat in patterns
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text", "save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _sql(path: Path) -> Source:
    return Source(str(path), _read(path))


def _project(path: Path) -> Iterator[Source]:
    from zdmigrate.alembic import project_sources

    yield from project_sources(path)


def _scripts(paths: list[Path]) -> Iterator[Source]:
    from zdmigrate.alembic import revision_sources

    yield from revision_sources(paths)


def _revision_scripts(folder: Path) -> list[Path]:
    """The ``.py`` files of ``folder`` (not below it, as Alembic reads a versions
    folder) when at least one is an Alembic revision script; else none."""
    from zdmigrate.alembic.history import read_header

    scripts = sorted(p for p in folder.glob("*.py") if p.name != "__init__.py" and p.is_file())
    if any(read_header(p).revision is not None for p in scripts):
        return scripts
    return []


class _Inputs:
    """The settings, and the live schema when migration files are planned against a
    database (read once, on the first migration file)."""

    def __init__(self, settings: LintSettings, database_url: str | None) -> None:
        self.settings = settings
        self.database_url = database_url if settings.schema_file is None else None
        self._live: dict[str, Any] = {}

    def live_schema(self, schema: str) -> Any:
        """The model of ``schema`` from the database (read once); None without one."""
        if self.database_url is None:
            return None
        if schema not in self._live:
            from zdmigrate.engine.db import connect, translate_errors
            from zdmigrate.engine.introspect import introspect

            with connect(self.database_url) as conn, translate_errors("lint"):
                self._live[schema] = introspect(conn, schema)
        return self._live[schema]


def _migration(path: Path, inputs: _Inputs) -> Source:
    from zdmigrate.plan import Timeouts

    settings = inputs.settings
    timeouts = Timeouts(settings.lock_timeout_ms, settings.statement_timeout_ms)
    return migration_source(
        path,
        schema=settings.schema,
        schema_file=settings.schema_file,
        timeouts=timeouts,
        live=inputs.live_schema,
    )


def _folder(path: Path, inputs: _Inputs) -> Iterator[Source]:
    """SQL files and zdmigrate migration files, in file name order (the order they run)."""
    if is_alembic_project(path):
        yield from _project(path)
        return
    suffixes = (".sql", *SUFFIXES)
    files = sorted(
        (p for p in path.rglob("*") if p.suffix.lower() in suffixes and p.is_file()),
        key=lambda p: (p.name, str(p)),
    )
    if not files:
        scripts = _revision_scripts(path)
        if not scripts:
            raise ConfigError(
                f"{path}: no .sql files, no migration files, no Alembic revision scripts "
                "and no Alembic project here",
                "give the folder that holds the .sql or .yaml/.json migration files, "
                "alembic.ini, env.py and versions/, or the revision scripts",
            )
        settings = inputs.settings
        yield from _scripts(
            [p for p in scripts if not _excluded(p, settings.exclude, settings.root)]
        )
        return
    for file in files:
        if not _excluded(file, inputs.settings.exclude, inputs.settings.root):
            yield _sql(file) if file.suffix.lower() == ".sql" else _migration(file, inputs)


def _one(arg: str, inputs: _Inputs) -> Iterator[Source]:
    exclude, root = inputs.settings.exclude, inputs.settings.root
    if arg == "-":
        yield Source("<stdin>", sys.stdin.read())
        return
    path = Path(arg)
    if path.is_dir():
        yield from _folder(path, inputs)
    elif _excluded(path, exclude, root):
        return
    elif path.suffix == ".sql":
        yield _sql(path)
    elif is_migration_file(path):
        yield _migration(path, inputs)
    else:
        raise ConfigError(
            f"{arg}: cannot lint a '{path.suffix or 'extensionless'}' file",
            "give .sql files, zdmigrate migration files, Alembic revision scripts (.py), "
            "Alembic projects or -",
        )


def _check_exists(args: list[str]) -> None:
    for arg in args:
        if arg != "-" and not Path(arg).exists():
            raise ConfigError(f"{arg}: no such file or directory", "give .sql files, folders or -")


def collect_sources(
    args: list[str], settings: LintSettings | None = None, database_url: str | None = None
) -> Iterator[Source]:
    """Sources for ``args`` in order; folders are walked by file name.

    Alembic revision scripts given one by one come last, in revision order. Migration
    files are planned against ``settings.schema_file`` if set, else the database at
    ``database_url`` if given, else what the earlier files beside them create.
    """
    settings = settings or LintSettings()
    inputs = _Inputs(settings, database_url)
    _check_exists(args)
    scripts = [Path(a) for a in args if a.endswith(".py") and Path(a).is_file()]
    for arg in args:
        if not (arg.endswith(".py") and Path(arg).is_file()):
            yield from _one(arg, inputs)
    kept = [p for p in scripts if not _excluded(p, settings.exclude, settings.root)]
    if kept:
        yield from _scripts(kept)
