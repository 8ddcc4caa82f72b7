"""SQL sources and their statements, parsed with pglast (PostgreSQL's own parser)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pglast.parser import ParseError, scan, split

from zdmigrate.lint._node import parse_one
from zdmigrate.lint.suppress import Suppressions, parse_suppressions

__all__ = ["Position", "Source", "Statement", "SyntaxProblem", "parse"]


@dataclass(frozen=True)
class Position:
    """Where a finding is shown: the file a user edits, 1-based line and column."""

    path: str
    line: int
    column: int
    source_line: str


class Source:
    """Text to lint and where its offsets point to. Subclasses map to another file.

    ``wrapped``: whether the runner wraps it in a transaction; None means 'as configured'.
    ``linted``: False when none of it could be read (a revision that cannot be imported).
    """

    def __init__(self, path: str, sql: str, *, wrapped: bool | None = None) -> None:
        self.path = path
        self.sql = sql
        self.wrapped = wrapped
        self.problems: list[SyntaxProblem] = []
        self.linted = True
        self._starts: list[int] | None = None
        self._lines: list[str] | None = None

    def _line_starts(self) -> list[int]:
        if self._starts is None:
            starts = [0]
            find = self.sql.find
            pos = find("\n")
            while pos >= 0:
                starts.append(pos + 1)
                pos = find("\n", pos + 1)
            self._starts = starts
        return self._starts

    def line_text(self, line: int) -> str:
        if self._lines is None:
            self._lines = self.sql.splitlines()
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""

    def position(self, offset: int) -> Position:
        starts = self._line_starts()
        index = bisect.bisect_right(starts, offset) - 1
        return Position(self.path, index + 1, offset - starts[index] + 1, self.line_text(index + 1))

    def suppressions(self) -> Suppressions:
        """The suppression comments that apply to this source."""
        return parse_suppressions(self.sql)


@dataclass
class Statement:
    """One statement: its node type, its parse tree when a rule needs one, its span."""

    tag: str
    node: Any
    start: int
    end: int
    source: Source
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.source.sql[self.start : self.end]

    def offset(self, location: int | None) -> int:
        """The source offset of a node location (bytes into the statement's UTF-8)."""
        if location is None or location < 0:
            return self.start
        text = self.text
        if not text.isascii():
            location = len(text.encode()[:location].decode(errors="ignore"))
        return self.start + location


@dataclass(frozen=True)
class SyntaxProblem:
    """A part of a source that could not be checked; ``rule``: ZD001 syntax-error, or
    ZD002 not-linted (a revision that could not be rendered), with its own ``help``."""

    offset: int
    message: str
    rule: str = "ZD001"
    help: str = ""


_WORD = re.compile(r"[A-Za-z_]+")
_CHEAP = {
    "SELECT": "SelectStmt",
    "WITH": "SelectStmt",
    "VALUES": "SelectStmt",
    "TABLE": "SelectStmt",
    "INSERT": "InsertStmt",
    "UPDATE": "UpdateStmt",
    "DELETE": "DeleteStmt",
    "MERGE": "MergeStmt",
    "COMMENT": "CommentStmt",
    "COPY": "CopyStmt",
    "DO": "DoStmt",
    "EXPLAIN": "ExplainStmt",
    "SHOW": "VariableShowStmt",
    "NOTIFY": "NotifyStmt",
    "LISTEN": "ListenStmt",
    "CALL": "CallStmt",
}
_CHEAP_CREATE = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:TEMP|TEMPORARY|RECURSIVE)\s+)?"
    r"(VIEW|FUNCTION|PROCEDURE)\b",
    re.I,
)
_CREATE_TAGS = {
    "VIEW": "ViewStmt",
    "FUNCTION": "CreateFunctionStmt",
    "PROCEDURE": "CreateFunctionStmt",
}


def _cheap_tag(sql: str, start: int) -> str | None:
    """The node type of statements no rule reads the tree of, from their first words."""
    word = _WORD.match(sql, start)
    if word is None:
        return None
    first = word.group(0).upper()
    if first == "CREATE":
        create = _CHEAP_CREATE.match(sql, start)
        return _CREATE_TAGS[create.group(1).upper()] if create else None
    return _CHEAP.get(first)


def _statement(source: Source, start: int, end: int) -> Statement:
    sql = source.sql
    tag = _cheap_tag(sql, start)
    if tag is not None and not (tag == "SelectStmt" and "set_config" in sql[start:end]):
        return Statement(tag, None, start, end, source)
    node = parse_one(sql[start:end])
    return Statement(node.tag, node, start, end, source)


def _statements(source: Source, base: int, chunk: str) -> Iterator[Statement]:
    for piece in split(chunk, only_slices=True):
        yield _statement(source, base + piece.start, base + piece.stop)


def _prefix(source: Source, base: int, chunk: str) -> list[Statement]:
    try:
        return list(_statements(source, base, chunk))
    except ParseError:
        return []


def _error_offset(exc: ParseError, default: int) -> int:
    offset = exc.args[1] if len(exc.args) > 1 else None
    return offset if isinstance(offset, int) else default


def _semicolons(sql: str) -> list[int]:
    try:
        return [tok.start for tok in scan(sql) if tok.name == "ASCII_59"]
    except ParseError:
        return []


def parse(source: Source) -> tuple[list[Statement], list[SyntaxProblem]]:
    """Every statement that parses, and one problem per statement that does not."""
    sql = source.sql
    statements: list[Statement] = []
    problems: list[SyntaxProblem] = []
    base = 0
    semis: list[int] | None = None
    while base < len(sql):
        chunk = sql[base:]
        try:
            statements.extend(_statements(source, base, chunk))
            break
        except ParseError as exc:
            where = base + _error_offset(exc, len(chunk))
            message = str(exc.args[0]) if exc.args else "syntax error"
            if semis is None:
                semis = _semicolons(sql)
            before = [s for s in semis if base <= s < where]
            if before:
                statements.extend(_prefix(source, base, sql[base : before[-1] + 1]))
            problems.append(SyntaxProblem(min(where, len(sql)), message))
            after = [s for s in semis if s >= where]
            base = after[0] + 1 if after else len(sql)
    return statements, problems
