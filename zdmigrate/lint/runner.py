"""Walk the statements of every source in order, run the rules, collect findings."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass

from zdmigrate.lint._context import Context, Options
from zdmigrate.lint._expr import alter_groups
from zdmigrate.lint._known import Known
from zdmigrate.lint._model import Finding, Rule, Violation
from zdmigrate.lint._track import track
from zdmigrate.lint.result import LintResult
from zdmigrate.lint.source import Source, Statement, SyntaxProblem, parse
from zdmigrate.lint.suppress import Suppressions

__all__ = ["lint_sources"]

# Reported by the runner from the sources' problems, not by checking statements:
# ZD001 syntax-error, ZD002 not-linted.
_REPORTED = ("ZD001", "ZD002")


class _Dispatch:
    """Rules by the node type (or ALTER TABLE subcommand) they look at.

    Rules with no types see every statement.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.by_type: dict[str, list[Rule]] = {}
        self.every: list[Rule] = []
        self.cache: dict[tuple[str, ...], list[Rule]] = {}
        for rule in rules:
            if not rule.node_types:
                self.every.append(rule)
            for node_type in rule.node_types:
                self.by_type.setdefault(node_type, []).append(rule)

    def rules_for(self, stmt: Statement) -> list[Rule]:
        """Rules for the statement's node type, or for ``AlterTableStmt:<subtype>`` it holds."""
        key: tuple[str, ...] = (stmt.tag,)
        if stmt.tag == "AlterTableStmt" and stmt.node is not None:
            key = (stmt.tag, *sorted(alter_groups(stmt.node)))
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self._rules_for(key)
        return found

    def _rules_for(self, key: tuple[str, ...]) -> list[Rule]:
        tag, subtypes = key[0], key[1:]
        keys = [tag, *(f"{tag}:{sub}" for sub in subtypes)]
        found: list[Rule] = []
        for k in keys:
            found.extend(r for r in self.by_type.get(k, ()) if r not in found)
        return [*found, *self.every]


def _finding(rule: Rule, v: Violation, source: Source, offset: int) -> Finding:
    pos = source.position(offset)
    return Finding(
        code=rule.code,
        rule=rule.name,
        severity=v.severity or rule.severity,
        message=v.message,
        help=v.help,
        path=pos.path,
        line=pos.line,
        column=pos.column,
        source_line=pos.source_line,
    )


class _SourceRun:
    """Lints one source with the shared context."""

    def __init__(self, source: Source, ctx: Context, dispatch: _Dispatch) -> None:
        self.source = source
        self.ctx = ctx
        self.dispatch = dispatch
        self.suppressions: Suppressions = source.suppressions()
        self.findings: list[Finding] = []
        self.statements = 0

    def _keep(self, finding: Finding, stmt_line: int) -> None:
        sup = self.suppressions
        if sup.ignores(finding.line, finding.code, finding.rule):
            return
        if stmt_line != finding.line and sup.ignores(stmt_line, finding.code, finding.rule):
            return
        self.findings.append(finding)

    def statement(self, stmt: Statement) -> None:
        stmt_line = 0
        for rule in self.dispatch.rules_for(stmt):
            for v in rule.check(stmt, self.ctx):
                offset = stmt.offset(v.offset)
                if not stmt_line:
                    stmt_line = self.source.position(stmt.start).line
                self._keep(_finding(rule, v, self.source, offset), stmt_line)
        track(stmt, self.ctx)

    def syntax(self, reported: dict[str, Rule], problem: SyntaxProblem) -> None:
        rule = reported.get(problem.rule)
        if rule is None:
            return
        help_ = problem.help or "fix the statement; nothing in it was checked"
        finding = _finding(rule, Violation(problem.message, help_), self.source, problem.offset)
        self._keep(finding, finding.line)

    def run(self, reported: dict[str, Rule]) -> list[Finding]:
        self.ctx.begin_source(self.source.wrapped)
        statements, problems = parse(self.source)
        self.ctx.statements = statements
        problems.extend(self.source.problems)
        for problem in problems:
            self.syntax(reported, problem)
        self.statements = len(statements)
        for stmt in statements:
            self.statement(stmt)
        self.findings.sort(key=lambda f: (f.line, f.column, f.code))
        return self.findings


@dataclass
class _Chunk:
    """What linting a run of consecutive sources found, and what it learned of tables."""

    findings: list[Finding]
    files: int
    statements: int
    known: Known


class _Linter:
    """The chosen rules, ready to lint runs of sources."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.reported = {r.code: r for r in rules if r.code in _REPORTED}
        self.dispatch = _Dispatch(r for r in rules if r.code not in _REPORTED)

    def chunk(self, sources: list[Source], ctx: Context) -> _Chunk:
        findings: list[Finding] = []
        statements = 0
        for source in sources:
            run = _SourceRun(source, ctx, self.dispatch)
            findings.extend(run.run(self.reported))
            statements += run.statements
        return _Chunk(findings, len(sources), statements, ctx.known)


# Below this much SQL, starting a second process costs more than it saves.
PARALLEL_MIN_CHARS = 128 * 1024


def _split(sources: list[Source], parts: int, total: int) -> list[list[Source]]:
    """``parts`` runs of consecutive sources of about the same amount of SQL (``total``)."""
    chunks: list[list[Source]] = [[]]
    done = 0
    for source in sources:
        if done >= total * len(chunks) / parts and len(chunks) < parts:
            chunks.append([])
        chunks[-1].append(source)
        done += len(source.sql)
    return [c for c in chunks if c]


def _jobs(sources: int, total: int, options: Options, jobs: int) -> int:
    if jobs == 1 or options.db is not None or not sys.platform.startswith("linux"):
        return 1
    if total < PARALLEL_MIN_CHARS:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(jobs or cores or 1, sources, 8))


def _fork(linter: _Linter, chunk: list[Source], options: Options) -> tuple[int, int]:
    """A child process that lints ``chunk`` and writes the pickled result to a pipe.

    Returns (pid, the pipe's read end). The child inherits everything (sources,
    rules) from this process; only its result travels.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        return pid, read
    os.close(read)  # the child, from here to os._exit
    try:
        payload = pickle.dumps((True, linter.chunk(chunk, Context(options))))
    except BaseException as exc:  # the parent raises it
        payload = pickle.dumps((False, "".join(traceback.format_exception(exc))))
    try:
        with os.fdopen(write, "wb") as out:
            out.write(payload)
    finally:
        os._exit(0)


def _collect(pid: int, read: int) -> _Chunk:
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    ok, value = pickle.loads(data) if data else (False, "the process died")
    if not ok:
        raise RuntimeError(f"linting in a child process failed:\n{value}")
    assert isinstance(value, _Chunk)
    return value


def _in_parallel(linter: _Linter, chunks: list[list[Source]], options: Options) -> list[_Chunk]:
    """The first chunk here, the others in forked processes, each from an empty context."""
    children = [_fork(linter, chunk, options) for chunk in chunks[1:]]
    try:
        results = [linter.chunk(chunks[0], Context(options))]
    except BaseException:  # Ctrl-C or a bug here: stop the children, say what happened here
        for pid, read in children:
            os.close(read)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    return [*results, *(_collect(pid, read) for pid, read in children)]


def lint_sources(
    sources: Iterable[Source], rules: Iterable[Rule], options: Options, jobs: int = 0
) -> LintResult:
    """Findings of ``rules`` over ``sources``, linted in order with one shared context.

    Large inputs are split into runs of consecutive sources linted in ``jobs``
    processes (0: one per core), each starting without what earlier runs learned
    of tables (column types, NOT NULL checks). A run that looked up or changed any
    of those tables is linted again, here, from the right context, so the findings
    are exactly those of one pass.
    """
    # Parse trees make many short-lived containers and no cycles: the cyclic
    # collector would walk them again and again for nothing (about 15% of the run).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _lint_sources(list(sources), tuple(rules), options, jobs)
    finally:
        if collecting:
            gc.enable()


def _lint_sources(
    todo: list[Source], chosen: tuple[Rule, ...], options: Options, jobs: int
) -> LintResult:
    linter = _Linter(chosen)
    total = sum(len(s.sql) for s in todo)
    chunks = _split(todo, _jobs(len(todo), total, options, jobs), total)
    if len(chunks) < 2:
        one = linter.chunk(todo, Context(options))
        return LintResult(tuple(one.findings), chosen, one.files, one.statements)
    results = _in_parallel(linter, chunks, options)
    findings: list[Finding] = []
    files = statements = 0
    known = options.start_known()
    for chunk, result in zip(chunks, results, strict=True):
        if result.known.asked & known.tables():
            result = linter.chunk(chunk, Context(options, known=known))
            known = result.known
        else:
            known.merge(result.known)
        findings.extend(result.findings)
        files += result.files
        statements += result.statements
    return LintResult(tuple(findings), chosen, files, statements)
