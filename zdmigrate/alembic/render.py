"""Render each Alembic revision's ``upgrade()`` offline, remembering which line emitted what.

This is what ``alembic upgrade --sql`` does for one revision at a time: a
MigrationContext in ``as_sql`` mode for PostgreSQL, the revision's
``upgrade()`` run under ``Operations.context``, and BEGIN/COMMIT around it
(Alembic runs each revision in a transaction on PostgreSQL; an
``autocommit_block()`` shows up as COMMIT ... BEGIN). The project's
``env.py`` is not run, so no database is needed.
"""

from __future__ import annotations

import ast as pyast
import bisect
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from zdmigrate.errors import ConfigError
from zdmigrate.lint.hints import ExistingType
from zdmigrate.lint.source import Position, Source, SyntaxProblem
from zdmigrate.lint.suppress import Suppressions, parse_suppressions

__all__ = ["RevisionSource", "project_sources", "revision_sources"]


class _Capture:
    """An output buffer that records the revision-file line of each write."""

    def __init__(self, code_file: str) -> None:
        self.code_file = code_file
        self.parts: list[str] = []
        self.size = 0
        self.anchors: list[tuple[int, int]] = []

    def _caller_line(self) -> int:
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_filename == self.code_file:
                return frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return 0

    def write(self, text: str) -> int:
        if text.strip():
            self.anchors.append((self.size, self._caller_line()))
        self.parts.append(text)
        self.size += len(text)
        return len(text)

    def flush(self) -> None:
        return None


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


class RevisionSource(Source):
    """The SQL of one revision; positions point at the ``op.`` call in the script."""

    def __init__(self, script: Path, sql: str, anchors: list[tuple[int, int]]) -> None:
        super().__init__(_shown(script), sql, wrapped=False)
        self.script_text = script.read_text(encoding="utf-8")
        self.script_lines = self.script_text.splitlines()
        self.anchors = anchors
        # op.alter_column's existing_type, which its SQL does not show (lint rules read it)
        self.existing_types: list[ExistingType] = []

    def _line_for(self, offset: int) -> int:
        keys = [a[0] for a in self.anchors]
        index = bisect.bisect_right(keys, offset) - 1
        return self.anchors[index][1] if index >= 0 else 0

    def position(self, offset: int) -> Position:
        line = self._line_for(offset) or 1
        text = self.script_lines[line - 1] if line <= len(self.script_lines) else ""
        column = len(text) - len(text.lstrip()) + 1
        return Position(self.path, line, column, text)

    def suppressions(self) -> Suppressions:
        return parse_suppressions(self.script_text)


def _failure_line(exc: BaseException, code_file: str) -> int:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == code_file and frame.lineno:
            return frame.lineno
    return 1


def _record_existing_types(context: Any, capture: _Capture) -> list[ExistingType]:
    """Wrap this context's ``impl.alter_column`` to keep the ``existing_type`` of each
    type change, with the span of the SQL it emitted."""
    impl = context.impl
    original = impl.alter_column
    found: list[ExistingType] = []

    def alter_column(table_name: str, column_name: str, *args: Any, **kw: Any) -> Any:
        start = capture.size
        result = original(table_name, column_name, *args, **kw)
        existing, schema = kw.get("existing_type"), kw.get("schema")
        if existing is not None and kw.get("type_") is not None:
            try:
                type_sql = str(existing.compile(dialect=context.dialect))
            except Exception:  # a type this dialect cannot compile: nothing to tell
                return result
            table = f"{schema}.{table_name}" if schema else table_name
            found.append(ExistingType(start, capture.size, table, column_name, type_sql))
        return result

    impl.alter_column = alter_column
    return found


def render_module(module: ModuleType, script: Path) -> RevisionSource:
    """The offline SQL of ``module.upgrade()`` with BEGIN/COMMIT, mapped to ``script``."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    upgrade = getattr(module, "upgrade", None)
    if not callable(upgrade):
        raise ConfigError(f"{script}: no upgrade() function", "is this an Alembic revision?")
    capture = _Capture(upgrade.__code__.co_filename)
    opts: dict[str, Any] = {
        "as_sql": True,
        "output_buffer": capture,
        "literal_binds": True,
        "transaction_per_migration": True,
    }
    context = MigrationContext.configure(dialect_name="postgresql", opts=opts)
    existing_types = _record_existing_types(context, capture)
    problem: SyntaxProblem | None = None
    try:
        with context.begin_transaction(_per_migration=True), Operations.context(context):
            upgrade()
    except Exception as exc:
        capture.anchors.append((capture.size, _failure_line(exc, capture.code_file)))
        problem = SyntaxProblem(capture.size, f"cannot render this revision offline: {exc}")
    source = RevisionSource(script, "".join(capture.parts), capture.anchors)
    source.existing_types = existing_types
    if problem is not None:
        source.problems.append(problem)
    return source


def _load(path: Path) -> ModuleType:
    from alembic.util.pyfiles import load_module_py

    name = f"_zdmigrate_rev_{abs(hash(str(path.resolve())))}"
    try:
        return load_module_py(name, str(path))
    except Exception as exc:
        raise ConfigError(f"{path}: cannot import the revision: {exc}") from None


def _literal_assignments(path: Path) -> dict[str, Any]:
    """Top-level ``name = <literal>`` assignments of a script, read without running it."""
    found: dict[str, Any] = {}
    try:
        tree = pyast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return found
    for stmt in tree.body:
        target = stmt.targets[0] if isinstance(stmt, pyast.Assign) else None
        if isinstance(stmt, pyast.AnnAssign):
            target = stmt.target
        value = getattr(stmt, "value", None)
        if isinstance(target, pyast.Name) and value is not None:
            try:
                found[target.id] = pyast.literal_eval(value)
            except ValueError:
                continue
    return found


def _parents(folder: Path) -> dict[str, tuple[str, ...]]:
    """revision -> its down revisions, for every script in ``folder``."""
    graph: dict[str, tuple[str, ...]] = {}
    for script in folder.glob("*.py"):
        found = _literal_assignments(script)
        down = found.get("down_revision")
        downs = tuple(down) if isinstance(down, (tuple, list)) else ((down,) if down else ())
        if isinstance(found.get("revision"), str):
            graph[found["revision"]] = tuple(str(d) for d in downs)
    return graph


def _depth(rev: str, graph: dict[str, tuple[str, ...]], seen: frozenset[str] = frozenset()) -> int:
    parents = [p for p in graph.get(rev, ()) if p not in seen]
    return 1 + max((_depth(p, graph, seen | {rev}) for p in parents), default=0)


def _revision_order(paths: list[Path]) -> list[Path]:
    """Scripts sorted so that every revision comes after its ancestors."""
    graph: dict[str, tuple[str, ...]] = {}
    for folder in {p.resolve().parent for p in paths}:
        graph.update(_parents(folder))

    def key(path: Path) -> tuple[int, str]:
        rev = _literal_assignments(path).get("revision")
        return (_depth(str(rev), graph) if isinstance(rev, str) else 0, path.name)

    return sorted(paths, key=key)


def revision_sources(paths: list[Path]) -> Iterator[RevisionSource]:
    """Revision scripts given by path, rendered in revision order."""
    for path in _revision_order(paths):
        yield render_module(_load(path), path)


def _prepend_sys_path(option: str | None, folder: Path) -> None:
    """Honour ``prepend_sys_path`` so revisions can import the project's modules."""
    for entry in reversed((option or "").replace(os.pathsep, " ").split()):
        path = Path(entry) if Path(entry).is_absolute() else folder / entry
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def _script_directory(folder: Path) -> Any:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    ini = folder / "alembic.ini"
    if not ini.is_file():
        return ScriptDirectory(str(folder))
    config = Config(str(ini))
    _prepend_sys_path(config.get_main_option("prepend_sys_path"), folder)
    location = config.get_main_option("script_location")
    if not location:
        raise ConfigError(f"{ini}: no script_location", "set it under [alembic]")
    where = Path(location)
    return ScriptDirectory(str(where if where.is_absolute() else folder / where))


def project_sources(folder: Path) -> Iterator[RevisionSource]:
    """Every revision of an Alembic project, from base to head."""
    from alembic.util.exc import CommandError

    try:
        scripts = list(reversed(list(_script_directory(folder).walk_revisions())))
    except CommandError as exc:
        raise ConfigError(f"{folder}: cannot read the Alembic revisions: {exc}") from None
    for script in scripts:
        yield render_module(script.module, Path(script.path))
