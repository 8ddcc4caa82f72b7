"""Walk the statements of every source in order, run the rules, collect findings."""

from __future__ import annotations

from collections.abc import Iterable

from zdmigrate.lint._context import Context, Options
from zdmigrate.lint._expr import alter_groups
from zdmigrate.lint._model import Finding, Rule, Violation
from zdmigrate.lint._source import Source, Statement, SyntaxProblem, parse
from zdmigrate.lint._track import track
from zdmigrate.lint.registry import find_rule
from zdmigrate.lint.result import LintResult
from zdmigrate.lint.suppress import Suppressions

__all__ = ["lint_sources"]

_SYNTAX = "ZD001"


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

    def syntax(self, rule: Rule | None, problem: SyntaxProblem) -> None:
        if rule is None:
            return
        help_ = "fix the statement; nothing in it was checked"
        finding = _finding(rule, Violation(problem.message, help_), self.source, problem.offset)
        self._keep(finding, finding.line)

    def run(self, syntax_rule: Rule | None) -> list[Finding]:
        self.ctx.begin_source(self.source.wrapped)
        statements, problems = parse(self.source)
        problems.extend(self.source.problems)
        for problem in problems:
            self.syntax(syntax_rule, problem)
        self.statements = len(statements)
        for stmt in statements:
            self.statement(stmt)
        self.findings.sort(key=lambda f: (f.line, f.column, f.code))
        return self.findings


def lint_sources(sources: Iterable[Source], rules: Iterable[Rule], options: Options) -> LintResult:
    """Findings of ``rules`` over ``sources``, linted in order with one shared context."""
    chosen = tuple(rules)
    syntax_rule = find_rule(_SYNTAX) if any(r.code == _SYNTAX for r in chosen) else None
    dispatch = _Dispatch(r for r in chosen if r.code != _SYNTAX)
    ctx = Context(options)
    findings: list[Finding] = []
    files = statements = 0
    for source in sources:
        run = _SourceRun(source, ctx, dispatch)
        findings.extend(run.run(syntax_rule))
        files += 1
        statements += run.statements
    return LintResult(tuple(findings), chosen, files, statements)
