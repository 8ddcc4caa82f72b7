"""What a migration does to each table, gathered operation by operation.

An operation (one module each) checks itself against the schema model,
changes the model as it plans, and records its effect on each table as typed
:data:`Change` values in a :class:`TableWork`. ``plan.builder`` puts the
changes of one table into Steps: the new columns with the trigger in one
short transaction, NOT VALID constraints after, their validation after the
backfill, and every contract change of the table in one short lock.
No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

from psycopg import sql

from zdmigrate.errors import SpecError
from zdmigrate.model.schema import Catalog, Column, GrantChange, Table
from zdmigrate.model.step import Lock, Phase, Step

__all__ = [
    "Change",
    "ColumnRename",
    "Comment",
    "ContractAlter",
    "ContractStatement",
    "ExpandAlter",
    "NotValidConstraint",
    "PlanContext",
    "Retired",
    "TableWork",
    "Transform",
    "ViewColumn",
]


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
    # the target has a default in the table while the migration is in flight, so an old
    # writer's INSERT fills it too (a shadow column has none until contract)
    target_default: bool = False


@dataclass(frozen=True)
class ExpandAlter:
    """An ALTER TABLE subcommand at expand (a new column, a physical-mode default),
    made with the table's trigger; ``undo`` reverses it at rollback."""

    clause: sql.Composable
    undo: sql.Composable | None = None


@dataclass(frozen=True)
class Comment:
    """A COMMENT statement at expand, in the same transaction as the new columns."""

    statement: sql.Composable


@dataclass(frozen=True)
class NotValidConstraint:
    """A CHECK or FOREIGN KEY added NOT VALID at expand and validated after the backfill;
    ``dropped_at_rollback`` when rollback must drop it (not only its column)."""

    name: str
    definition: sql.Composable
    lock: Lock
    dropped_at_rollback: bool = True


@dataclass(frozen=True)
class ContractAlter:
    """An ALTER TABLE subcommand at contract: on the old names (drops, defaults), or
    ``after_renames`` on the final ones (SET NOT NULL, SET DEFAULT of a shadow)."""

    clause: sql.Composable
    after_renames: bool = False


@dataclass(frozen=True)
class ColumnRename:
    """At contract, ``old`` takes its final name ``new``."""

    old: str
    new: str


@dataclass(frozen=True)
class ContractStatement:
    """A statement at contract after the table's columns have their final names
    (a copied constraint or index takes the original's name)."""

    statement: sql.Composable


@dataclass(frozen=True)
class Retired:
    """What contract takes away from the old version: a column by its old name, or
    (``column`` None) the whole table. The gate looks for anything still using it."""

    column: str | None
    why: str


Change = Union[  # noqa: UP007 (a runtime alias on Python 3.10)
    ExpandAlter,
    Comment,
    NotValidConstraint,
    ContractAlter,
    ColumnRename,
    ContractStatement,
    Retired,
]


@dataclass
class TableWork:
    """Everything one migration does to one table."""

    table: Table
    new_name: str
    view_columns: list[ViewColumn]
    created: bool = False
    dropped: bool = False
    transforms: list[Transform] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    touched_columns: set[str] = field(default_factory=set)

    @property
    def needs_backfill(self) -> bool:
        return any(t.backfill for t in self.transforms)

    def of_kind(self, kind: type[Change]) -> list[Change]:
        return [c for c in self.changes if isinstance(c, kind)]

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
    """The schema as the migration starts, and the work gathered so far.

    ``steps`` holds the steps an operation makes whole (an index built
    concurrently, a new table), in the order the operations come.
    """

    migration: str
    catalog: Catalog
    mode: Literal["version", "physical"]
    work: dict[str, TableWork] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    current_op: str = ""
    # a part of a migration that spans schemas: its objects' names carry the schema
    scoped: bool = False
    # GRANTs and REVOKEs of sql operations, in order (ops.raw_sql.GrantChange)
    grant_changes: list[GrantChange] = field(default_factory=list)

    @property
    def schema(self) -> str:
        return self.catalog.schema

    def qualified(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)

    def fail(self, message: str, hint: str) -> SpecError:
        return SpecError(f"{self.migration}: {self.current_op}: {message}", hint)

    def phase_steps(self, phase: Phase) -> list[Step]:
        return [s for s in self.steps if s.phase is phase]

    def table_work(self, name: str) -> TableWork:
        """The work on the table the new version calls ``name``."""
        for work in self.work.values():
            if work.new_name == name and not work.dropped:
                return work
        table = self.catalog.table(name)
        if table is None or name in self.work:
            raise self.fail(
                f"table '{name}' does not exist in schema '{self.schema}'", self._where_hint()
            )
        if table.partition_of is not None:
            raise self.fail(
                f"table '{name}' is a partition of '{table.partition_of}'",
                f"change '{table.partition_of}': its partitions follow (one trigger, one "
                "view and one backfill for all of them)",
            )
        cols = [ViewColumn(c.name, c.name, c.type, c.default) for c in table.app_columns]
        work = TableWork(table=table, new_name=name, view_columns=cols)
        self.work[name] = work
        return work

    def _where_hint(self) -> str:
        known = ", ".join(sorted(self.catalog.tables)) or "none"
        hint = f"check the name; tables there: {known}"
        if not self.catalog.complete:
            hint += (
                " (planned from the earlier migration files only: give the schema with "
                "--database-url, --schema-file DUMP.sql (pg_dump --schema-only) or "
                "--schema-file SNAPSHOT.json (zdmigrate snapshot))"
            )
        return hint

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
