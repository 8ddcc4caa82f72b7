"""drop_column: hidden from the new version at expand, dropped at contract."""

from __future__ import annotations

from psycopg import sql

from zdmigrate.model.schema import Catalog
from zdmigrate.ops.work import ContractAlter, PlanContext, Retired, Transform
from zdmigrate.spec.models import DropColumn

__all__ = ["apply", "plan"]


def plan(op: DropColumn, ctx: PlanContext) -> None:
    work = ctx.table_work(op.table)
    vcol, phys = ctx.column(work, op.column)
    work.claim(vcol.name, ctx.current_op)
    if phys.name in work.table.primary_key:
        raise ctx.fail(
            f"column '{phys.name}' is part of the primary key of '{op.table}'",
            "drop or replace the primary key first",
        )
    if not phys.nullable and phys.default is None and op.down is None:
        raise ctx.fail(
            f"column '{op.table}.{phys.name}' is NOT NULL without a default, so rows the new "
            "version inserts would fail",
            "give 'down': an expression that fills it for the old version",
        )
    work.view_columns.remove(vcol)
    if op.down is not None:
        work.transforms.append(
            Transform("down", phys.name, op.down, phys.type, False, ctx.current_op)
        )
    work.changes.append(ContractAlter(sql.SQL("DROP COLUMN {}").format(sql.Identifier(phys.name))))
    work.changes.append(Retired(phys.name, "dropped"))


def apply(op: DropColumn, catalog: Catalog) -> None:
    catalog.tables[op.table].drop_column(op.column)
