"""Steps: the unit a plan shows and the executor runs, byte for byte."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Cleanup", "Deprecated", "Lock", "Phase", "Plan", "SchemaPart", "Step"]


class Phase(str, enum.Enum):
    check = "check"
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
class Deprecated:
    """Something contract removes that the old version may still use: a column of a
    table (by the name the old version uses), or the whole table (``column`` None)."""

    schema: str
    table: str
    column: str | None
    why: str = field(default="", compare=False)  # the same object, whatever the reason

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}" if self.column else f"table {self.table}"

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "table": self.table, "column": self.column, "why": self.why}


@dataclass(frozen=True)
class Cleanup:
    """Run ``statement`` before a step, and again after it fails, when ``check`` (a query
    returning one boolean) says so: an INVALID index left by a failed concurrent build."""

    check: str
    statement: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "statement": self.statement, "reason": self.reason}


@dataclass(frozen=True)
class Step:
    """One unit of work: SQL run in one transaction (or alone, if not transactional).

    ``key`` is stable across runs of the same migration so a resumed ``apply``
    skips what is done. ``lock`` is the strongest table lock the SQL takes,
    ``rewrites``/``scans`` whether it rewrites or scans a whole table.
    ``before`` and ``after`` are sent around ``sql`` (the lock and statement
    timeouts); ``cleanup`` is sent first when its check says so.
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
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    cleanup: Cleanup | None = None

    @property
    def statements(self) -> tuple[str, ...]:
        """Every statement of the step in the order the executor sends them."""
        return (*self.before, self.sql, *self.after)

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
            "before": list(self.before),
            "after": list(self.after),
            "cleanup": self.cleanup.to_json() if self.cleanup else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        cleanup = data.get("cleanup")
        return cls(
            key=data["key"],
            phase=Phase(data["phase"]),
            description=data["description"],
            sql=data["sql"],
            lock=Lock(data["lock"]),
            tables=tuple(data["tables"]),
            rewrites=data["rewrites"],
            scans=data["scans"],
            transactional=data["transactional"],
            notes=tuple(data["notes"]),
            before=tuple(data.get("before", ())),
            after=tuple(data.get("after", ())),
            cleanup=Cleanup(**cleanup) if cleanup else None,
        )


@dataclass(frozen=True)
class SchemaPart:
    """What a migration changes in one schema: the schema, its version schema (None in
    physical mode) and its tables (the names before and after the migration)."""

    schema: str
    version_schema: str | None
    tables: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "version_schema": self.version_schema,
            "tables": list(self.tables),
        }


@dataclass
class Plan:
    """What a migration does, phase by phase: every statement zdmigrate sends for it.

    ``checks`` run before expand (EXPLAIN of each expression: nothing changes);
    ``backfill`` and ``verify`` are specs whose statements are in their ``statements()``.
    ``older_version_schemas``: (migration, version schema) pairs contract drops;
    ``deprecated``: the columns and tables contract takes away from the old version.
    ``parts``: for a migration that changes tables of several schemas, one per schema
    (``schema`` and ``version_schema`` are the first's); empty for one schema.
    """

    migration: str
    mode: str
    version_schema: str | None
    schema: str = "public"
    checks: list[Step] = field(default_factory=list)
    expand: list[Step] = field(default_factory=list)
    backfill: list[Any] = field(default_factory=list)
    post_backfill: list[Step] = field(default_factory=list)
    contract: list[Step] = field(default_factory=list)
    rollback: list[Step] = field(default_factory=list)
    verify: list[Any] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    older_version_schemas: list[tuple[str, str]] = field(default_factory=list)
    deprecated: list[Deprecated] = field(default_factory=list)
    parts: list[SchemaPart] = field(default_factory=list)

    STEP_LISTS = ("checks", "expand", "post_backfill", "contract", "rollback")

    @property
    def schema_parts(self) -> list[SchemaPart]:
        """One part per schema the migration changes (one, unless it spans several)."""
        return self.parts or [SchemaPart(self.schema, self.version_schema, list(self.tables))]

    @property
    def version_schemas(self) -> list[str]:
        return [p.version_schema for p in self.schema_parts if p.version_schema]

    @property
    def search_path(self) -> str | None:
        """What the new version connects with (version mode): every version schema of
        the migration, then the schemas of its tables."""
        if not self.version_schema:
            return None
        return ",".join([*self.version_schemas, *(p.schema for p in self.schema_parts)])
