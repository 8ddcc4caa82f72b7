"""rename_column: the new version sees the new name through its view at once; the
table's column is renamed at contract. No shadow column, no backfill."""

from __future__ import annotations

from zdmigrate.model.schema import Catalog
from zdmigrate.ops import alter_column
from zdmigrate.ops.work import PlanContext
from zdmigrate.spec.models import AlterColumn, RenameColumn

__all__ = ["apply", "plan"]


def _as_alter(op: RenameColumn) -> AlterColumn:
    return AlterColumn(table=op.table, column=op.from_, name=op.to)


def plan(op: RenameColumn, ctx: PlanContext) -> None:
    alter_column.plan(_as_alter(op), ctx)


def apply(op: RenameColumn, catalog: Catalog) -> None:
    alter_column.apply(_as_alter(op), catalog)
