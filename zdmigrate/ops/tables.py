"""create_table, drop_table, rename_table."""

from __future__ import annotations

from psycopg import sql

from zdmigrate.model.schema import Catalog, Column, Table
from zdmigrate.model.step import Lock, Phase
from zdmigrate.ops._common import add_step, apply_column_constraints, ident_list
from zdmigrate.ops.work import PlanContext, Retired, TableWork, ViewColumn
from zdmigrate.spec.models import ColumnDef, CreateTable, DropTable, RenameTable

__all__ = [
    "apply_create",
    "apply_drop",
    "apply_rename",
    "plan_create",
    "plan_drop",
    "plan_rename",
]


def _column_sql(ctx: PlanContext, table: str, d: ColumnDef) -> sql.Composable:
    parts: list[sql.Composable] = [sql.Identifier(d.name), sql.SQL(d.type)]
    if d.default is not None:
        parts.append(sql.SQL("DEFAULT " + d.default))
    if not d.nullable and not d.primary_key:
        parts.append(sql.SQL("NOT NULL"))
    if d.unique:
        parts.append(sql.SQL("UNIQUE"))
    if d.check is not None:
        parts.append(sql.SQL("CHECK (" + d.check + ")"))
    if d.references is not None:
        r = d.references
        parts.append(
            sql.SQL("REFERENCES {} ({}) ON DELETE {}").format(
                ctx.qualified(r.table), ident_list(r.columns), sql.SQL(r.on_delete.upper())
            )
        )
    return sql.SQL(" ").join(parts)


def plan_create(op: CreateTable, ctx: PlanContext) -> None:
    if ctx.catalog.table(op.table) or any(w.new_name == op.table for w in ctx.work.values()):
        raise ctx.fail(f"table '{op.table}' already exists", "pick another name")
    cols: list[sql.Composable] = [_column_sql(ctx, op.table, d) for d in op.columns]
    pk = [d.name for d in op.columns if d.primary_key]
    if pk:
        cols.append(sql.SQL("PRIMARY KEY ({})").format(ident_list(pk)))
    stmt = sql.SQL("CREATE TABLE {} (\n    {}\n)").format(
        ctx.qualified(op.table), sql.SQL(",\n    ").join(cols)
    )
    referenced = tuple(sorted({d.references.table for d in op.columns if d.references}))
    add_step(
        ctx,
        Phase.expand,
        f"create:{op.table}",
        f"create table {op.table}",
        stmt,
        lock=Lock.share_row_exclusive if referenced else Lock.none,
        tables=referenced,
        notes=("new table: no lock on existing data",),
    )
    add_step(
        ctx,
        Phase.rollback,
        f"create:{op.table}",
        f"drop table {op.table}",
        sql.SQL("DROP TABLE IF EXISTS {}").format(ctx.qualified(op.table)),
        lock=Lock.access_exclusive,
        tables=(op.table,),
    )
    columns = [
        Column(d.name, d.type, d.nullable and not d.primary_key, d.default) for d in op.columns
    ]
    table = Table(op.table, columns, tuple(pk))
    ctx.work[op.table] = TableWork(
        table=table,
        new_name=op.table,
        view_columns=[ViewColumn(c.name, c.name, c.type, c.default) for c in columns],
        created=True,
    )


def plan_drop(op: DropTable, ctx: PlanContext) -> None:
    work = ctx.table_work(op.table)
    work.dropped = True
    work.changes.append(Retired(None, "dropped"))
    add_step(
        ctx,
        Phase.contract,
        f"drop:{op.table}",
        f"drop table {work.table.name}",
        sql.SQL("DROP TABLE {}").format(ctx.qualified(work.table.name)),
        lock=Lock.access_exclusive,
        tables=(work.table.name,),
    )


def plan_rename(op: RenameTable, ctx: PlanContext) -> None:
    ctx.mode_check(True, "renaming a table")
    work: TableWork = ctx.table_work(op.from_)
    if ctx.catalog.table(op.to) or any(w.new_name == op.to for w in ctx.work.values()):
        raise ctx.fail(f"table '{op.to}' already exists", "pick another name")
    work.new_name = op.to
    work.changes.append(Retired(None, f"renamed to {op.to}"))


def apply_create(op: CreateTable, catalog: Catalog) -> None:
    """The table as the server describes it: PostgreSQL's default constraint names."""
    name = op.table
    columns = [
        Column(d.name, d.type, d.nullable and not d.primary_key, d.default) for d in op.columns
    ]
    table = Table(name, columns)
    pk = tuple(d.name for d in op.columns if d.primary_key)
    if pk:
        table.add_primary_key(f"{name}_pkey", pk)
    for d in op.columns:
        apply_column_constraints(table, d)
    catalog.tables[name] = table


def apply_drop(op: DropTable, catalog: Catalog) -> None:
    catalog.tables.pop(op.table, None)


def apply_rename(op: RenameTable, catalog: Catalog) -> None:
    """The table's new name, in the foreign keys that reference it too (as the server)."""
    table = catalog.tables.pop(op.from_)
    table.name = op.to
    catalog.tables[op.to] = table
    for other in catalog.tables.values():
        other.foreign_keys = {
            k: f.retargeted(op.from_, op.to) for k, f in other.foreign_keys.items()
        }
