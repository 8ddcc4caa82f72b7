"""What the gate found: one result per evidence source, and the verdict over them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from zdmigrate.config import GatePolicy, GateSettings

__all__ = ["GateReport", "SourceResult"]

Verdict = Literal["clear", "found", "unavailable"]


@dataclass
class SourceResult:
    """``found`` comes with evidence; ``unavailable`` with the reason and how to enable it.
    A source that could not look is never ``clear``."""

    source: str
    verdict: Verdict
    reason: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "verdict": self.verdict,
            "reason": self.reason,
            "evidence": self.evidence,
        }


@dataclass
class GateReport:
    migration: str
    sources: list[SourceResult]
    policy: GatePolicy = field(default_factory=lambda: GateSettings().policy(code_given=False))
    window_s: float = 0.0
    action: str = "complete"

    @property
    def blocking(self) -> list[SourceResult]:
        """Required sources that found evidence, and those that could not look (unless
        their 'unavailable' is allowed)."""
        return [s for s in self.sources if self.policy.blocks(s.source, s.verdict)]

    @property
    def warnings(self) -> list[SourceResult]:
        """What does not block: a source not required that found something or could not
        look, and an allowed 'unavailable'."""
        return [s for s in self.sources if s.verdict != "clear" and s not in self.blocking]

    @property
    def verdict(self) -> str:
        return "blocked" if self.blocking else "clear"

    def summary(self) -> str:
        if not self.blocking:
            return f"{self.migration}: gate clear"
        parts = []
        for s in self.blocking:
            if s.verdict == "found":
                parts.append(f"{s.source}: " + "; ".join(e["summary"] for e in s.evidence[:3]))
            else:
                parts.append(f"{s.source}: unavailable ({s.reason})")
        return f"cannot {self.action} '{self.migration}': " + " | ".join(parts)

    def todo(self) -> list[str]:
        """What to do about what blocks, source by source."""
        if self.action == "roll back":
            return (
                ["stop the new version's clients first (they use what rollback removes)"]
                if self.blocking
                else []
            )
        todo: list[str] = []
        for s in self.blocking:
            if s.verdict != "found":
                what = (
                    f"grant what the {s.source} source names, or list it in "
                    "[tool.zdmigrate.gate] allow-unavailable"
                )
            elif s.source == "backfill":
                paused = any(e["summary"] == "the migration is paused" for e in s.evidence)
                what = (
                    f"'zdmigrate resume {self.migration}' lets the backfill go on"
                    if paused
                    else "run 'zdmigrate apply' on the migration's file again: it fills what "
                    "the backfill has left"
                )
            elif s.source == "rows":
                what = f"'zdmigrate verify {self.migration}' lists the rows that disagree"
            else:
                what = "deploy the new version everywhere"
            if what not in todo:
                todo.append(what)
        return todo

    def hint(self) -> str:
        """The refusal's hint: what to do, then the way around it."""
        todo = self.todo()
        return "; ".join(todo) + ", or use --force" if todo else "use --force"

    def to_json(self) -> dict[str, Any]:
        req = self.policy.required
        return {
            "migration": self.migration,
            "verdict": self.verdict,
            "window_s": self.window_s,
            "what_to_do": self.todo(),
            "sources": [
                {**s.to_json(), "blocks": s in self.blocking, "required": s.source in req}
                for s in self.sources
            ],
        }
