"""add_column: a new column; ``up`` fills existing rows and rows the old app writes."""

from __future__ import annotations

from psycopg import sql

from zdmigrate.model.schema import Catalog, Column
from zdmigrate.ops._common import (
    add_not_null_check,
    add_unique_constraint,
    add_validated_constraint,
    apply_column_constraints,
    ident_list,
)
from zdmigrate.ops.work import Comment, ExpandAlter, PlanContext, Transform, ViewColumn
from zdmigrate.spec.models import AddColumn

__all__ = ["apply", "plan"]


def plan(op: AddColumn, ctx: PlanContext) -> None:
    work = ctx.table_work(op.table)
    col = op.column
    if work.view_column(col.name) or work.table.column(col.name):
        raise ctx.fail(
            f"column '{col.name}' already exists in table '{op.table}'",
            "pick another name, or use alter_column to change it",
        )
    work.claim(col.name, ctx.current_op)
    name = sql.Identifier(col.name)
    table = work.table.name
    # NOT NULL with a default and nothing to compute: one metadata-only ALTER (PG 11+).
    direct_not_null = not col.nullable and col.default is not None and op.up is None
    parts: list[sql.Composable] = [sql.SQL("ADD COLUMN {} {}").format(name, sql.SQL(col.type))]
    if col.default is not None:
        parts.append(sql.SQL("DEFAULT {}").format(sql.SQL(col.default)))
    if direct_not_null:
        parts.append(sql.SQL("NOT NULL"))
    work.changes.append(
        ExpandAlter(sql.SQL(" ").join(parts), sql.SQL("DROP COLUMN IF EXISTS {}").format(name))
    )
    if not col.nullable and not direct_not_null:
        add_not_null_check(ctx, work, col.name, col.name)
    if op.up is not None:
        work.transforms.append(
            Transform(
                "up", col.name, op.up, col.type, True, ctx.current_op, col.default is not None
            )
        )
    if col.check is not None:
        check = sql.SQL("CHECK (" + col.check + ")")
        add_validated_constraint(work, f"{table}_{col.name}_check", check, is_check=True)
    if col.references is not None:
        ref = col.references
        definition = sql.SQL("FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}").format(
            name, ctx.qualified(ref.table), ident_list(ref.columns), sql.SQL(ref.on_delete.upper())
        )
        add_validated_constraint(work, f"{table}_{col.name}_fkey", definition, is_check=False)
    if col.unique:
        add_unique_constraint(ctx, table, f"{table}_{col.name}_key", [col.name])
    if col.comment is not None:
        statement = sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
            ctx.qualified(table), name, sql.Literal(col.comment)
        )
        work.changes.append(Comment(statement))
    work.view_columns.append(ViewColumn(col.name, col.name, col.type, col.default))


def apply(op: AddColumn, catalog: Catalog) -> None:
    """The table once the migration is complete: the column with its check, key and index."""
    table = catalog.tables[op.table]
    col = op.column
    table.columns.append(Column(col.name, col.type, col.nullable, col.default))
    apply_column_constraints(table, col)
