"""One module per operation: its checks, its effect on the schema model, its changes.

``plan(op, ctx)`` checks the operation against the schema and records what it
does in the context (``work.TableWork`` changes and whole Steps);
``apply(op, catalog)`` changes the schema model as completing the operation
changes the database. Both are pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from zdmigrate.model.schema import Catalog
from zdmigrate.ops import (
    add_column,
    alter_column,
    constraints,
    drop_column,
    indexes,
    raw_sql,
    rename_column,
    tables,
)
from zdmigrate.ops.work import PlanContext, TableWork, Transform, ViewColumn
from zdmigrate.spec import models as m

# the typed changes of a TableWork are in zdmigrate.ops.work
__all__ = [
    "OPERATIONS",
    "PlanContext",
    "TableWork",
    "Transform",
    "ViewColumn",
    "apply_operation",
]


class Operation(NamedTuple):
    plan: Callable[[Any, PlanContext], None]
    apply: Callable[[Any, Catalog], None] | None


OPERATIONS: dict[type, Operation] = {
    m.AddColumn: Operation(add_column.plan, add_column.apply),
    m.DropColumn: Operation(drop_column.plan, drop_column.apply),
    m.RenameColumn: Operation(rename_column.plan, rename_column.apply),
    m.AlterColumn: Operation(alter_column.plan, alter_column.apply),
    m.CreateIndex: Operation(indexes.plan_create, indexes.apply_create),
    m.DropIndex: Operation(indexes.plan_drop, indexes.apply_drop),
    m.CreateTable: Operation(tables.plan_create, tables.apply_create),
    m.DropTable: Operation(tables.plan_drop, tables.apply_drop),
    m.RenameTable: Operation(tables.plan_rename, tables.apply_rename),
    m.CreateConstraint: Operation(constraints.plan_create, constraints.apply_create),
    m.DropConstraint: Operation(constraints.plan_drop, constraints.apply_drop),
    m.RawSql: Operation(raw_sql.plan, raw_sql.apply),
}


def apply_operation(op: m.Operation, catalog: Catalog) -> None:
    """``catalog`` as completing ``op`` leaves it. An operation on a table the model does
    not hold (one that predates the files replayed) changes nothing."""
    apply = OPERATIONS[type(op)].apply
    table = getattr(op, "table", None) or getattr(op, "from_", None)
    if apply is None or (
        table is not None and not isinstance(op, m.CreateTable) and table not in catalog.tables
    ):
        return
    apply(op, catalog)
