"""Steps: the unit a plan shows and the executor runs, byte for byte."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Lock", "Phase", "Plan", "Step"]


class Phase(str, enum.Enum):
    expand = "expand"
    backfill = "backfill"
    contract = "contract"
    rollback = "rollback"


class Lock(str, enum.Enum):
    """Table lock levels, weakest first (PostgreSQL's names)."""

    none = "none"
    access_share = "ACCESS SHARE"
    row_exclusive = "ROW EXCLUSIVE"
    share_update_exclusive = "SHARE UPDATE EXCLUSIVE"
    share = "SHARE"
    share_row_exclusive = "SHARE ROW EXCLUSIVE"
    access_exclusive = "ACCESS EXCLUSIVE"

    @property
    def rank(self) -> int:
        return list(Lock).index(self)


@dataclass(frozen=True)
class Step:
    """One unit of work: SQL run in one transaction (or alone, if not transactional).

    ``key`` is stable across runs of the same migration so a resumed ``apply``
    skips what is done. ``lock`` is the strongest table lock the SQL takes,
    ``rewrites``/``scans`` whether it rewrites or scans a whole table.
    """

    key: str
    phase: Phase
    description: str
    sql: str
    lock: Lock = Lock.none
    tables: tuple[str, ...] = ()
    rewrites: bool = False
    scans: bool = False
    transactional: bool = True
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "phase": self.phase.value,
            "description": self.description,
            "sql": self.sql,
            "lock": self.lock.value,
            "tables": list(self.tables),
            "rewrites": self.rewrites,
            "scans": self.scans,
            "transactional": self.transactional,
            "notes": list(self.notes),
        }


@dataclass
class Plan:
    """What a migration does, phase by phase."""

    migration: str
    mode: str
    version_schema: str | None
    expand: list[Step] = field(default_factory=list)
    backfill: list[Any] = field(default_factory=list)
    post_backfill: list[Step] = field(default_factory=list)
    contract: list[Step] = field(default_factory=list)
    rollback: list[Step] = field(default_factory=list)
    operations: list[dict[str, Any]] = field(default_factory=list)
    checks: list[tuple[str, str]] = field(default_factory=list)
    verify: list[Any] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
