"""Rule cases as data: ``cases/<rule-name>.yaml`` with ``fail`` and ``pass`` lists.

Each case is ``sql`` (one migration), optionally ``deployed``: the SQL of an
earlier migration, linted first in the same run (its tables exist and are in
use; what it says of them, such as column types, is known). Only the findings
in ``sql`` count.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from zdmigrate.lint import LintResult, LintSettings, lint_paths
from zdmigrate.lint._context import Options
from zdmigrate.lint.registry import select_rules
from zdmigrate.lint.report import render
from zdmigrate.lint.runner import lint_sources
from zdmigrate.lint.source import Source, parse

HERE = Path(__file__).parent
CASES = HERE / "cases"
SNAPSHOTS = HERE / "snapshots"


@dataclass(frozen=True)
class Case:
    rule: str
    kind: str
    index: int
    sql: str
    pg_version: int
    in_transaction: bool
    deployed: str = ""
    revision: str | None = None

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.kind}-{self.index}"

    def lint(self) -> LintResult:
        settings = LintSettings(
            select=(self.rule,),
            pg_version=self.pg_version,
            assume_in_transaction=self.in_transaction,
        )
        if self.revision is not None:
            return self._lint_revision(settings)
        path = f"{self.rule}-{self.index}.sql"
        sources = [Source(path, self.sql)]
        if self.deployed:
            sources.insert(0, Source(f"{self.rule}-{self.index}-deployed.sql", self.deployed))
        rules = select_rules(list(settings.select), [])
        options = Options(settings.pg_version, settings.assume_in_transaction)
        result = lint_sources(sources, rules, options, jobs=1)
        mine = tuple(f for f in result.findings if f.path == path)
        earlier = len(parse(sources[0])[0]) if self.deployed else 0
        return LintResult(mine, result.rules, 1, result.statements - earlier)

    def _lint_revision(self, settings: LintSettings) -> LintResult:
        """An Alembic revision script (``revision:`` in the cases file), linted from a
        temporary folder; findings name it ``<rule>-<index>.py``."""
        name = f"{self.rule}-{self.index}.py"
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / name
            script.write_text(self.revision or "", encoding="utf-8")
            result = lint_paths([str(script)], settings, jobs=1)
        return replace(result, findings=tuple(replace(f, path=name) for f in result.findings))

    def hits(self) -> list[str]:
        return [f.rule for f in self.lint().findings if f.rule == self.rule]


def _case(rule: str, kind: str, index: int, data: dict[str, Any]) -> Case:
    return Case(
        rule,
        kind,
        index,
        data.get("sql", ""),
        int(data.get("pg_version", 15)),
        bool(data.get("in_transaction", False)),
        str(data.get("deployed", "")),
        data.get("revision"),
    )


def load_cases(rule: str) -> dict[str, list[Case]]:
    data = yaml.safe_load((CASES / f"{rule}.yaml").read_text(encoding="utf-8")) or {}
    return {
        kind: [_case(rule, kind, i, item) for i, item in enumerate(data.get(kind) or [], 1)]
        for kind in ("fail", "pass")
    }


def all_cases() -> list[Case]:
    found: list[Case] = []
    for path in sorted(CASES.glob("*.yaml")):
        for cases in load_cases(path.stem).values():
            found.extend(cases)
    return found


def snapshot_text(rule: str) -> str:
    """The text report of every failing case of ``rule``, one after the other."""
    blocks = []
    for case in load_cases(rule)["fail"]:
        result = case.lint()
        mine = tuple(f for f in result.findings if f.rule == rule)
        blocks.append(render(LintResult(mine, result.rules, 1, result.statements), "text"))
    return "\n".join(blocks)
