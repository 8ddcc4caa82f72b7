"""An Alembic history read without importing it: each script's header, and their order.

``revision`` and ``down_revision`` are read from the text of each script
(a regular expression for the usual one-line form, the parse tree otherwise),
so ordering a folder of a thousand revisions imports none of them, and the
order is computed without recursion, however long the chain.
"""

from __future__ import annotations

import ast
import configparser
import heapq
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zdmigrate.errors import ConfigError

__all__ = ["Header", "Project", "find_project", "in_revision_order", "read_header"]

_REVISION = re.compile(r"""^revision\s*(?::[^=\n]*)?=\s*(['"])([^'"\n]+)\1\s*(?:#.*)?$""", re.M)
_DOWN = re.compile(r"^down_revision\s*(?::[^=\n]*)?=[ \t]*(.+?)[ \t]*(?:#[^'\"\n]*)?$", re.M)


@dataclass(frozen=True)
class Header:
    """What a revision script says about its place in the history."""

    path: Path
    revision: str | None
    down: tuple[str, ...]


def _downs(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _from_tree(path: Path, text: str) -> Header:
    """The header from the parse tree (multi-line tuples, annotations); None when absent."""
    found: dict[str, Any] = {}
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return Header(path, None, ())
    for stmt in tree.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) else None
        if isinstance(stmt, ast.AnnAssign):
            target = stmt.target
        value = getattr(stmt, "value", None)
        if isinstance(target, ast.Name) and value is not None:
            try:
                found[target.id] = ast.literal_eval(value)
            except (ValueError, TypeError, RecursionError):  # not a literal
                continue
    rev = found.get("revision")
    return Header(
        path, rev if isinstance(rev, str) else None, _downs(found.get("down_revision")) or ()
    )


def read_header(path: Path) -> Header:
    """``revision`` and ``down_revision`` of a script, read without running it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return Header(path, None, ())
    rev, down = _REVISION.search(text), _DOWN.search(text)
    if rev is not None and down is not None:
        try:
            downs = _downs(ast.literal_eval(down.group(1)))
        except (ValueError, TypeError, SyntaxError, RecursionError):
            downs = None
        if downs is not None:
            return Header(path, rev.group(2), downs)
    return _from_tree(path, text)


def _children(headers: list[Header]) -> tuple[dict[str, list[int]], list[int]]:
    """Children of each revision (by index into ``headers``) and how many parents each
    has among them."""
    index = {h.revision: i for i, h in enumerate(headers) if h.revision is not None}
    children: dict[str, list[int]] = {}
    pending = [0] * len(headers)
    for i, header in enumerate(headers):
        for parent in dict.fromkeys(header.down):
            if parent in index and parent != header.revision:
                children.setdefault(parent, []).append(i)
                pending[i] += 1
    return children, pending


def in_revision_order(headers: Iterable[Header]) -> list[Header]:
    """Every revision after all of its parents; among those ready, by file name.

    A parent not among ``headers`` counts as already applied. Revisions caught in a
    cycle (a broken history) come last, by file name.
    """
    items = sorted(headers, key=lambda h: (h.path.name, str(h.path)))
    children, pending = _children(items)
    ready = [i for i, n in enumerate(pending) if n == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for child in children.get(items[i].revision or "", ()):
            pending[child] -= 1
            if pending[child] == 0:
                heapq.heappush(ready, child)
    placed = set(order)
    order.extend(i for i in range(len(items)) if i not in placed)
    return [items[i] for i in order]


@dataclass(frozen=True)
class Project:
    """Where an Alembic project keeps its revisions, and what to put on sys.path."""

    versions: tuple[Path, ...]
    sys_path: tuple[Path, ...]
    recursive: bool = False

    def scripts(self) -> list[Path]:
        pattern = "**/*.py" if self.recursive else "*.py"
        return sorted(
            (
                p
                for folder in self.versions
                for p in folder.glob(pattern)
                if p.name != "__init__.py" and p.is_file()
            ),
            key=lambda p: (p.name, str(p)),
        )


def _ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(defaults={"here": str(path.parent.resolve())})
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(
            f"{path}: cannot read: {first}", "fix the file's [alembic] section"
        ) from None
    return parser


def _option(parser: configparser.ConfigParser, name: str) -> str | None:
    try:
        value = parser.get("alembic", name, fallback=None)
    except configparser.Error:
        return None
    return value.strip() if value and value.strip() else None


def _under(base: Path, entry: str) -> Path:
    path = Path(entry)
    return path if path.is_absolute() else base / path


def _split(value: str | None) -> list[str]:
    return [v for v in re.split(r"[\s,]+|" + re.escape(os.pathsep), value or "") if v]


def _script_location(folder: Path, ini: Path, parser: configparser.ConfigParser) -> Path:
    location = _option(parser, "script_location")
    if location is None:
        if (folder / "env.py").is_file() and (folder / "versions").is_dir():
            return folder  # Flask-Migrate: alembic.ini beside env.py and versions/
        raise ConfigError(
            f"{ini}: no script_location, and no env.py and versions/ beside it",
            "set script_location under [alembic], or give the folder that holds env.py "
            "and versions/",
        )
    where = _under(folder, location)
    if not where.is_dir():
        raise ConfigError(
            f"{ini}: script_location {location} is not a folder",
            "give a path relative to alembic.ini (or %(here)s/...)",
        )
    return where


def find_project(folder: Path) -> Project:
    """The versions folders of the Alembic project in ``folder``.

    ``alembic.ini`` names them (``script_location``, ``version_locations``); without
    ``script_location`` (Flask-Migrate's ``migrations/``), or without ``alembic.ini``,
    the folder holding ``env.py`` and ``versions/`` is the script location.
    """
    ini = folder / "alembic.ini"
    if not ini.is_file():
        return Project((folder / "versions",), ())
    parser = _ini(ini)
    location = _script_location(folder, ini, parser)
    extra = [_under(folder, v) for v in _split(_option(parser, "version_locations"))]
    versions = tuple(extra) or (location / "versions",)
    prepend = tuple(_under(folder, v) for v in _split(_option(parser, "prepend_sys_path")))
    recursive = (_option(parser, "recursive_version_locations") or "").lower() in ("true", "1")
    return Project(versions, prepend, recursive)
