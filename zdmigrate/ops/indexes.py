"""create_index and drop_index, both CONCURRENTLY."""

from __future__ import annotations

from psycopg import sql

from zdmigrate.model.schema import Catalog, IndexInfo
from zdmigrate.model.step import Lock, Phase
from zdmigrate.ops._common import add_step, create_index_concurrently
from zdmigrate.ops.work import PlanContext
from zdmigrate.spec.models import CreateIndex, DropIndex

__all__ = ["apply_create", "apply_drop", "plan_create", "plan_drop"]


def plan_create(op: CreateIndex, ctx: PlanContext) -> None:
    work = ctx.table_work(op.table)
    sources = [ctx.column(work, c)[0].source for c in op.columns]
    create_index_concurrently(
        ctx,
        name=op.name,
        table=work.table.name,
        columns=sources,
        unique=op.unique,
        method=op.method,
        where=op.where,
    )


def _owner(ctx: PlanContext, name: str) -> str | None:
    for table in ctx.catalog.tables.values():
        if name in table.indexes:
            return table.name
    return None


def plan_drop(op: DropIndex, ctx: PlanContext) -> None:
    owner = _owner(ctx, op.name)
    if owner is None and ctx.catalog.complete:
        raise ctx.fail(
            f"index '{op.name}' does not exist in schema '{ctx.schema}'", "check the name"
        )
    stmt = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
        sql.Identifier(ctx.schema, op.name)
    )
    add_step(
        ctx,
        Phase.contract,
        f"drop-index:{op.name}",
        f"drop index {op.name} without blocking writes",
        stmt,
        lock=Lock.share_update_exclusive,
        tables=(owner,) if owner else (),
        transactional=False,
    )


def apply_create(op: CreateIndex, catalog: Catalog) -> None:
    info = IndexInfo(op.unique, op.method, tuple(op.columns), op.where)
    catalog.tables[op.table].add_index(op.name, info)


def apply_drop(op: DropIndex, catalog: Catalog) -> None:
    for table in catalog.tables.values():
        if op.name in table.indexes:
            table.drop_index(op.name)
