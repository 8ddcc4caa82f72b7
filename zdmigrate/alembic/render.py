"""Render each Alembic revision's ``upgrade()`` offline, remembering which line emitted what.

This is what ``alembic upgrade --sql`` does for one revision at a time: a
MigrationContext in ``as_sql`` mode for PostgreSQL, the revision's
``upgrade()`` run under ``Operations.context``, and BEGIN/COMMIT around it
(Alembic runs each revision in a transaction on PostgreSQL; an
``autocommit_block()`` shows up as COMMIT ... BEGIN). The project's
``env.py`` is not run, so no database is needed.

One revision never stops the others: a revision that cannot be imported, or
whose ``upgrade()`` raises (or calls ``sys.exit``), is reported as not linted
(from the line where it stopped; what it rendered before is linted). What a
revision prints is kept out of the report.
"""

from __future__ import annotations

import bisect
import contextlib
import importlib.util
import io
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from zdmigrate.alembic.history import find_project, in_revision_order, read_header
from zdmigrate.errors import ConfigError
from zdmigrate.lint.hints import ExistingType
from zdmigrate.lint.source import Position, Source, SyntaxProblem
from zdmigrate.lint.suppress import Suppressions, parse_suppressions

__all__ = [
    "RevisionSource",
    "project_sources",
    "render_imported",
    "render_script",
    "revision_sources",
]

NOT_LINTED = "ZD002"
# set in the options of the MigrationContext that renders revisions for lint
LINTING = "zdmigrate_lint"


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
    """``path`` relative to the working directory when it is under it.

    ``os.path`` string work, not ``Path.resolve()``: resolving every component of
    every path was a tenth of linting a long history.
    """
    cwd = os.getcwd()
    full = os.path.abspath(path)
    if full.startswith(cwd.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(full, cwd)).as_posix()
    return str(path)


class RevisionSource(Source):
    """The SQL of one revision; positions point at the ``op.`` call in the script."""

    def __init__(self, script: Path, sql: str, anchors: list[tuple[int, int]]) -> None:
        super().__init__(_shown(script), sql, wrapped=False)
        try:
            self.script_text = script.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self.script_text = ""
        self.script_lines = self.script_text.splitlines()
        self.anchors = anchors
        self._keys = [a[0] for a in anchors]
        # op.alter_column's existing_type, which its SQL does not show (lint rules read it)
        self.existing_types: list[ExistingType] = []

    def _line_for(self, offset: int) -> int:
        index = bisect.bisect_right(self._keys, offset) - 1
        return self.anchors[index][1] if index >= 0 else 0

    def position(self, offset: int) -> Position:
        line = self._line_for(offset) or 1
        text = self.script_lines[line - 1] if line <= len(self.script_lines) else ""
        column = len(text) - len(text.lstrip()) + 1
        return Position(self.path, line, column, text)

    def suppressions(self) -> Suppressions:
        return parse_suppressions(self.script_text)


def _failure_line(exc: BaseException, code_file: str) -> int:
    if isinstance(exc, SyntaxError) and exc.filename == code_file and exc.lineno:
        return exc.lineno
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == code_file and frame.lineno:
            return frame.lineno
    return 1


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """What the revision prints (stdout and stderr) stays out of the report: Python's
    streams and, for what child processes or C code write, file descriptors 1 and 2."""
    sink = io.StringIO()
    with _null_fds(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


@contextlib.contextmanager
def _null_fds() -> Iterator[None]:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no such descriptors: nothing to protect
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (null, *saved):
            os.close(fd)


def _not_linted(script: Path, line: int, message: str, help_: str) -> RevisionSource:
    source = RevisionSource(script, "", [(0, line)])
    source.problems.append(SyntaxProblem(0, message, NOT_LINTED, help_))
    source.linted = False
    return source


_IMPORT_HELP = (
    "make `alembic upgrade --sql` work for it: fix the error, or set prepend_sys_path in "
    "alembic.ini so the project's modules are found"
)
_RENDER_HELP = (
    "the rest of upgrade() was not checked: make it render offline (`alembic upgrade --sql`), "
    "e.g. keep data changes that read rows out of the revision, or suppress this"
)


def _load(path: Path) -> ModuleType:
    name = f"_zdmigrate_rev_{abs(hash(os.path.abspath(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_CONTEXTS: list[Any] = []
# the existing_type of each type change of the revision being rendered
_EXISTING: list[ExistingType] = []


def _record_existing_types(context: Any) -> None:
    """Wrap the context's ``impl.alter_column`` to keep the ``existing_type`` of each
    type change, with the span of the SQL it emitted (into the current capture)."""
    impl = context.impl
    original = impl.alter_column

    def alter_column(table_name: str, column_name: str, *args: Any, **kw: Any) -> Any:
        capture = impl.output_buffer
        start = capture.size
        result = original(table_name, column_name, *args, **kw)
        existing, schema = kw.get("existing_type"), kw.get("schema")
        if existing is not None and kw.get("type_") is not None:
            try:
                type_sql = str(existing.compile(dialect=context.dialect))
            except Exception:  # a type this dialect cannot compile: nothing to tell
                return result
            table = f"{schema}.{table_name}" if schema else table_name
            _EXISTING.append(ExistingType(start, capture.size, table, column_name, type_sql))
        return result

    impl.alter_column = alter_column


def _context(capture: _Capture) -> Any:
    """The offline PostgreSQL MigrationContext, writing to ``capture``.

    One for the whole run: in ``as_sql`` mode it keeps no state between
    revisions but its output buffer, and configuring one (it builds the
    ``alembic_version`` table each time) was a seventh of linting a long history.
    """
    if not _CONTEXTS:
        from alembic.runtime.migration import MigrationContext

        from zdmigrate.alembic._offline import install

        opts: dict[str, Any] = {
            "as_sql": True,
            "output_buffer": capture,
            "literal_binds": True,
            "transaction_per_migration": True,
            # zdmigrate.alembic.apply/complete/rollback write a note, not their plan:
            # the migration file is linted as such (lint migrations/)
            LINTING: True,
        }
        context = MigrationContext.configure(dialect_name="postgresql", opts=opts)
        install(context)
        _record_existing_types(context)
        _CONTEXTS.append(context)
    context = _CONTEXTS[0]
    context.output_buffer = context.impl.output_buffer = capture
    return context


def render_module(module: ModuleType, script: Path) -> RevisionSource:
    """The offline SQL of ``module.upgrade()`` with BEGIN/COMMIT, mapped to ``script``."""
    from alembic.operations import Operations

    upgrade = getattr(module, "upgrade", None)
    if not callable(upgrade):
        message = "revision not linted: it has no upgrade() function"
        return _not_linted(script, 1, message, "is this an Alembic revision? Alembic needs one")
    from zdmigrate.alembic._offline import hook_orm

    capture = _Capture(upgrade.__code__.co_filename)
    context = _context(capture)
    hook_orm()
    failure: BaseException | None = None
    _EXISTING.clear()
    try:
        with _quiet(), context.begin_transaction(_per_migration=True), Operations.context(context):
            upgrade()
    except (Exception, SystemExit) as exc:
        failure = exc
    if failure is None:
        source = RevisionSource(script, "".join(capture.parts), capture.anchors)
    else:
        source = _partial(script, capture, failure)
    source.existing_types = list(_EXISTING)
    return source


def _partial(script: Path, capture: _Capture, exc: BaseException) -> RevisionSource:
    """What rendered before ``exc``, and a not-linted finding where it stopped."""
    line = _failure_line(exc, capture.code_file)
    emitted = any(at for _, at in capture.anchors)
    capture.anchors.append((capture.size, line))
    source = RevisionSource(script, "".join(capture.parts), capture.anchors)
    message = f"not linted from line {line} on: upgrade() stopped rendering: {_reason(exc)}"
    source.problems.append(SyntaxProblem(capture.size, message, NOT_LINTED, _RENDER_HELP))
    source.linted = emitted
    return source


def _import_alembic() -> None:
    """Import Alembic, leaving out mako's pygments plugin.

    Alembic imports mako (its templates), and mako imports pygments when it is
    installed (rich brings it) to colour its HTML tracebacks, which lint never
    shows: about 45 ms of the 250 ms that importing Alembic and SQLAlchemy takes,
    in a command whose whole run on one revision is a few hundred ms. A None in
    sys.modules makes that import fail, and mako falls back to no colouring.
    """
    if "alembic.runtime.migration" in sys.modules:
        return
    from zdmigrate._imports import paused_gc

    plugin = "mako.ext.pygmentplugin"
    blocked = plugin not in sys.modules
    if blocked:
        sys.modules[plugin] = None  # type: ignore[assignment]
    try:
        with paused_gc():
            import alembic.operations
            import alembic.runtime.migration  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"cannot lint Alembic revisions: {exc}", "pip install alembic") from None
    finally:
        if blocked and sys.modules.get(plugin) is None:
            del sys.modules[plugin]


def render_script(path: Path) -> RevisionSource:
    """One revision script, rendered; never raises for the script's faults.

    A revision made only of plain ``op.`` calls is read without importing it (see
    :mod:`zdmigrate.alembic.static`: the same result, without importing Alembic);
    any other is imported and its ``upgrade()`` run offline."""
    from zdmigrate.alembic.static import render_static

    source = render_static(path)
    if source is not None:
        return source
    return render_imported(path)


def render_imported(path: Path) -> RevisionSource:
    """One revision script, imported and rendered the real way."""
    _import_alembic()
    try:
        with _quiet():
            module = _load(path)
    except (Exception, SystemExit) as exc:
        line = _failure_line(exc, str(path))
        message = f"revision not linted: cannot import it: {_reason(exc)}"
        return _not_linted(path, line, message, _IMPORT_HELP)
    return render_module(module, path)


def _revision_order(paths: list[Path]) -> list[Path]:
    """Scripts sorted so that every revision comes after its ancestors (read from the
    headers of every script beside them)."""
    if len(paths) < 2:
        return list(paths)
    wanted = {os.path.abspath(p): p for p in paths}
    folders = {os.path.dirname(p) for p in wanted}
    headers = [read_header(s) for f in folders for s in Path(f).glob("*.py")]
    known = {os.path.abspath(h.path) for h in headers}
    headers.extend(read_header(Path(p)) for p in wanted if p not in known)
    ordered = (os.path.abspath(h.path) for h in in_revision_order(headers))
    return [wanted[p] for p in ordered if p in wanted]


def revision_sources(paths: list[Path]) -> Iterator[RevisionSource]:
    """Revision scripts given by path, rendered in revision order."""
    for path in _revision_order(paths):
        yield render_script(path)


def _prepend_sys_path(entries: tuple[Path, ...]) -> None:
    """Honour ``prepend_sys_path`` so revisions can import the project's modules."""
    for path in reversed(entries):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def project_sources(folder: Path) -> Iterator[RevisionSource]:
    """Every revision of an Alembic project, from base to head."""
    project = find_project(folder)
    scripts = project.scripts()
    if not scripts:
        where = ", ".join(str(v) for v in project.versions)
        hint = "give the folder that holds alembic.ini, or env.py and versions/"
        raise ConfigError(f"{folder}: no revision scripts in {where}", hint)
    _prepend_sys_path(project.sys_path)
    for header in in_revision_order(read_header(s) for s in scripts):
        yield render_script(header.path)
