"""create_constraint and drop_constraint without blocking writers."""

from __future__ import annotations

from psycopg import sql

from zdmigrate.ops._common import add_unique_constraint, add_validated_constraint, ident_list
from zdmigrate.ops._work import PlanContext
from zdmigrate.spec.models import CreateConstraint, DropConstraint

__all__ = ["plan_create", "plan_drop"]


def plan_create(op: CreateConstraint, ctx: PlanContext) -> None:
    work = ctx.table_work(op.table)
    if op.name in work.table.constraints:
        raise ctx.fail(
            f"constraint '{op.name}' already exists on '{op.table}'", "pick another name"
        )
    sources = [ctx.column(work, c)[0].source for c in op.columns]
    if op.type == "check":
        assert op.check is not None
        add_validated_constraint(ctx, work, op.name, sql.SQL("CHECK (" + op.check + ")"))
    elif op.type == "foreign_key":
        ref = op.references
        assert ref is not None
        definition = sql.SQL("FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}").format(
            ident_list(sources),
            ctx.qualified(ref.table),
            ident_list(ref.columns),
            sql.SQL(ref.on_delete.upper()),
        )
        add_validated_constraint(ctx, work, op.name, definition)
    else:
        add_unique_constraint(ctx, work.table.name, op.name, sources)


def plan_drop(op: DropConstraint, ctx: PlanContext) -> None:
    work = ctx.table_work(op.table)
    if ctx.catalog.live and op.name not in work.table.constraints:
        raise ctx.fail(f"constraint '{op.name}' does not exist on '{op.table}'", "check the name")
    work.contract_alters.append(sql.SQL("DROP CONSTRAINT {}").format(sql.Identifier(op.name)))
