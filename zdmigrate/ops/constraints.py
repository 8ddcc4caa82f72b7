"""create_constraint and drop_constraint without blocking writers."""

from __future__ import annotations

from psycopg import sql

from zdmigrate.model.schema import Catalog, ForeignKey
from zdmigrate.ops._common import add_unique_constraint, add_validated_constraint, ident_list
from zdmigrate.ops.work import ContractAlter, PlanContext
from zdmigrate.spec.models import CreateConstraint, DropConstraint

__all__ = ["apply_create", "apply_drop", "plan_create", "plan_drop"]


def plan_create(op: CreateConstraint, ctx: PlanContext) -> None:
    work = ctx.table_work(op.table)
    if op.name in work.table.constraints:
        raise ctx.fail(
            f"constraint '{op.name}' already exists on '{op.table}'", "pick another name"
        )
    sources = [ctx.column(work, c)[0].source for c in op.columns]
    if op.type == "check":
        assert op.check is not None
        check = sql.SQL("CHECK (" + op.check + ")")
        add_validated_constraint(work, op.name, check, is_check=True)
    elif op.type == "foreign_key":
        ref = op.references
        assert ref is not None
        definition = sql.SQL("FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}").format(
            ident_list(sources),
            ctx.qualified(ref.table),
            ident_list(ref.columns),
            sql.SQL(ref.on_delete.upper()),
        )
        add_validated_constraint(work, op.name, definition, is_check=False)
    else:
        add_unique_constraint(ctx, work.table.name, op.name, sources)


def plan_drop(op: DropConstraint, ctx: PlanContext) -> None:
    work = ctx.table_work(op.table)
    if ctx.catalog.complete and op.name not in work.table.constraints:
        raise ctx.fail(f"constraint '{op.name}' does not exist on '{op.table}'", "check the name")
    work.changes.append(
        ContractAlter(sql.SQL("DROP CONSTRAINT {}").format(sql.Identifier(op.name)))
    )


def apply_create(op: CreateConstraint, catalog: Catalog) -> None:
    table = catalog.tables[op.table]
    if op.type == "check" and op.check is not None:
        table.add_check(op.name, op.check)
    elif op.type == "foreign_key" and op.references is not None:
        ref = op.references
        fk = ForeignKey.of(list(op.columns), ref.table, list(ref.columns), ref.on_delete)
        table.add_foreign_key(op.name, fk)
    elif op.type == "unique":
        table.add_unique(op.name, tuple(op.columns))


def apply_drop(op: DropConstraint, catalog: Catalog) -> None:
    catalog.tables[op.table].drop_constraint(op.name)
