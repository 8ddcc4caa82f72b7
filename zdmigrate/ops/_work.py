"""What a migration does to each table, gathered op by op before Steps are made.

Operations (one module each) record their effect on a :class:`TableWork`;
``plan.builder`` turns the gathered work into Steps. No I/O here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

from psycopg import sql

from zdmigrate.engine.catalog import INTERNAL_PREFIX, Catalog, Column, Table
from zdmigrate.errors import SpecError
from zdmigrate.plan.step import Lock, Step

__all__ = ["MARKER", "PlanContext", "TableWork", "Transform", "ViewColumn", "internal_name"]

MARKER = "_zdm_needs_backfill"


def internal_name(*parts: str) -> str:
    """A zdmigrate object name within PostgreSQL's 63-byte limit, stable for its parts."""
    name = INTERNAL_PREFIX + "_".join(parts)
    if len(name.encode()) <= 63:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return name.encode()[:54].decode(errors="ignore") + "_" + digest


@dataclass
class ViewColumn:
    """A column as the new version sees it: its name there and the physical column."""

    name: str
    source: str
    type: str
    default: str | None


@dataclass(frozen=True)
class Transform:
    """Keep ``target`` filled: ``up`` transforms run for old writers, ``down`` for new ones."""

    direction: Literal["up", "down"]
    target: str
    expr: str
    type: str
    backfill: bool = False
    label: str = ""


@dataclass
class TableWork:
    """Everything one migration does to one table, split by phase."""

    table: Table
    new_name: str
    view_columns: list[ViewColumn]
    created: bool = False
    dropped: bool = False
    transforms: list[Transform] = field(default_factory=list)
    expand_alters: list[sql.Composable] = field(default_factory=list)
    contract_alters: list[sql.Composable] = field(default_factory=list)
    rollback_alters: list[sql.Composable] = field(default_factory=list)
    contract_renames: list[tuple[str, str]] = field(default_factory=list)
    contract_after_renames: list[sql.Composable] = field(default_factory=list)
    contract_statements: list[sql.Composable] = field(default_factory=list)
    expand_comments: list[sql.Composable] = field(default_factory=list)
    expand_constraints: list[sql.Composable] = field(default_factory=list)
    expand_constraints_lock: Lock = Lock.none
    validate_constraints: list[str] = field(default_factory=list)
    touched_columns: set[str] = field(default_factory=set)

    @property
    def needs_backfill(self) -> bool:
        return any(t.backfill for t in self.transforms)

    def view_column(self, name: str) -> ViewColumn | None:
        return next((c for c in self.view_columns if c.name == name), None)

    def claim(self, column: str, op_label: str) -> None:
        if column in self.touched_columns:
            raise SpecError(
                f"{op_label}: column '{self.table.name}.{column}' is changed by an earlier "
                "operation of this migration",
                "change each column once per migration (alter_column can rename and "
                "change the type together)",
            )
        self.touched_columns.add(column)


@dataclass
class PlanContext:
    """The catalog as the migration starts, and the work gathered so far."""

    migration: str
    catalog: Catalog
    mode: Literal["version", "physical"]
    work: dict[str, TableWork] = field(default_factory=dict)
    expand_steps: list[Step] = field(default_factory=list)
    post_backfill_steps: list[Step] = field(default_factory=list)
    contract_steps: list[Step] = field(default_factory=list)
    rollback_steps: list[Step] = field(default_factory=list)
    current_op: str = ""

    @property
    def schema(self) -> str:
        return self.catalog.schema

    def qualified(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)

    def fail(self, message: str, hint: str) -> SpecError:
        return SpecError(f"{self.migration}: {self.current_op}: {message}", hint)

    def table_work(self, name: str) -> TableWork:
        """The work on the table the new version calls ``name``."""
        for work in self.work.values():
            if work.new_name == name and not work.dropped:
                return work
        table = self.catalog.table(name)
        if table is None or name in self.work:
            known = ", ".join(sorted(self.catalog.tables)) or "none"
            raise self.fail(
                f"table '{name}' does not exist in schema '{self.schema}'",
                f"check the name; tables there: {known}",
            )
        cols = [ViewColumn(c.name, c.name, c.type, c.default) for c in table.app_columns]
        work = TableWork(table=table, new_name=name, view_columns=cols)
        self.work[name] = work
        return work

    def column(self, work: TableWork, name: str) -> tuple[ViewColumn, Column]:
        vcol = work.view_column(name)
        if vcol is None:
            known = ", ".join(c.name for c in work.view_columns)
            raise self.fail(
                f"column '{name}' does not exist in table '{work.new_name}'",
                f"check the name; columns there: {known}",
            )
        phys = work.table.column(vcol.source)
        return vcol, phys or Column(vcol.source, vcol.type, True, vcol.default)

    def mode_check(self, needs_version: bool, what: str) -> None:
        if needs_version and self.mode == "physical":
            raise self.fail(
                f"{what} needs version schemas (the new app must see new names or types "
                "while the old app sees the old ones)",
                "use mode = 'version' (the default) and connect the new app with "
                "options=-c search_path=<version schema>",
            )
