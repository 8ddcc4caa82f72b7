"""alter_column (and rename_column): type, nullability, default and name.

A type or nullability change goes through a shadow column: the new version
reads and writes ``_zdm_<name>`` (under the final name, in its view), the
old version keeps the original column, and the trigger keeps them in step
with ``up`` and ``down``. Contract drops the original and renames the shadow.
A rename or a new default alone needs no shadow: the view does it.
"""

from __future__ import annotations

from psycopg import sql

from zdmigrate.model.schema import Catalog, Column, internal_name
from zdmigrate.ops._common import (
    add_not_null_check,
    add_validated_constraint,
    create_index_concurrently,
    ident_list,
)
from zdmigrate.ops.work import (
    ColumnRename,
    ContractAlter,
    ContractStatement,
    ExpandAlter,
    PlanContext,
    Retired,
    TableWork,
    Transform,
    ViewColumn,
)
from zdmigrate.spec.expr import referenced_columns, rename_columns
from zdmigrate.spec.models import AlterColumn

__all__ = ["apply", "plan"]


def plan(op: AlterColumn, ctx: PlanContext) -> None:
    work = ctx.table_work(op.table)
    vcol, phys = ctx.column(work, op.column)
    work.claim(vcol.name, ctx.current_op)
    new_name = op.name or vcol.name
    if op.name and op.name != vcol.name and work.view_column(op.name):
        raise ctx.fail(
            f"column '{op.name}' already exists in table '{op.table}'",
            "pick another name",
        )
    type_changes = op.type is not None and op.type != phys.type
    null_changes = op.nullable is not None and op.nullable != phys.nullable
    if type_changes or null_changes:
        _shadow(op, ctx, work, phys, new_name)
    else:
        _in_place(op, ctx, work, phys, new_name)


def _new_default(op: AlterColumn, phys: Column) -> str | None:
    if op.drop_default:
        return None
    return op.default if op.default is not None else phys.default


def _shadow(
    op: AlterColumn, ctx: PlanContext, work: TableWork, phys: Column, new_name: str
) -> None:
    ctx.mode_check(True, "changing a column's type or nullability")
    if phys.generated:
        raise ctx.fail(
            f"column '{phys.name}' is a generated column",
            "drop it and add a new one with the new expression instead",
        )
    if phys.name in work.table.primary_key:
        raise ctx.fail(
            f"column '{phys.name}' is part of the primary key of '{op.table}'",
            "primary key columns cannot change type or nullability yet; add a new key column "
            "with add_column instead",
        )
    new_type = op.type or phys.type
    nullable = phys.nullable if op.nullable is None else op.nullable
    shadow = internal_name(new_name)
    old_q = sql.Identifier(phys.name).as_string()
    new_q = sql.Identifier(new_name).as_string()
    up = op.up or (f"CAST({old_q} AS {new_type})" if op.type else old_q)
    down = op.down or (f"CAST({new_q} AS {phys.type})" if op.type else new_q)
    default = _new_default(op, phys)
    add = sql.SQL("ADD COLUMN {} {}").format(sql.Identifier(shadow), sql.SQL(new_type))
    undo = sql.SQL("DROP COLUMN IF EXISTS {}").format(sql.Identifier(shadow))
    work.changes.append(ExpandAlter(add, undo))
    work.transforms.append(Transform("up", shadow, up, new_type, True, ctx.current_op))
    work.transforms.append(Transform("down", phys.name, down, phys.type, False, ctx.current_op))
    index = work.view_columns.index(next(c for c in work.view_columns if c.source == phys.name))
    work.view_columns[index] = ViewColumn(new_name, shadow, new_type, default)
    work.changes.append(ContractAlter(sql.SQL("DROP COLUMN {}").format(sql.Identifier(phys.name))))
    work.changes.append(ColumnRename(shadow, new_name))
    # the new column takes the end of the table: an INSERT without a column list changes
    work.changes.append(Retired(phys.name, f"replaced by a new {new_type} column {new_name}"))
    if not nullable:
        add_not_null_check(ctx, work, shadow, new_name)
    _refuse_referenced(ctx, work, phys.name)
    _copy_checks(ctx, work, phys.name, shadow)
    _copy_indexes(ctx, work, phys.name, shadow)
    _copy_foreign_keys(ctx, work, phys.name, shadow)
    if default is not None:
        set_default = sql.SQL("ALTER COLUMN {} SET DEFAULT {}").format(
            sql.Identifier(new_name), sql.SQL(default)
        )
        work.changes.append(ContractAlter(set_default, after_renames=True))


def _in_place(
    op: AlterColumn, ctx: PlanContext, work: TableWork, phys: Column, new_name: str
) -> None:
    renamed = new_name != phys.name
    if renamed:
        ctx.mode_check(True, "renaming a column")
        work.changes.append(ColumnRename(phys.name, new_name))
        work.changes.append(Retired(phys.name, f"renamed to {new_name}"))
    default = _new_default(op, phys)
    vcol = next(c for c in work.view_columns if c.source == phys.name)
    vcol.name, vcol.default = new_name, default
    if default == phys.default:
        return
    change = (
        sql.SQL("ALTER COLUMN {} DROP DEFAULT").format(sql.Identifier(phys.name))
        if default is None
        else sql.SQL("ALTER COLUMN {} SET DEFAULT {}").format(
            sql.Identifier(phys.name), sql.SQL(default)
        )
    )
    if ctx.mode == "physical":
        undo = (
            sql.SQL("ALTER COLUMN {} DROP DEFAULT").format(sql.Identifier(phys.name))
            if phys.default is None
            else sql.SQL("ALTER COLUMN {} SET DEFAULT {}").format(
                sql.Identifier(phys.name), sql.SQL(phys.default)
            )
        )
        work.changes.append(ExpandAlter(change, undo))
    else:
        work.changes.append(ContractAlter(change))


def _copy_checks(ctx: PlanContext, work: TableWork, column: str, shadow: str) -> None:
    """CHECK constraints on the column hold for the shadow too (NOT VALID, then validated)."""
    table = ctx.qualified(work.table.name)
    for name, expr in sorted(work.table.checks.items()):
        if name.startswith("_zdm_") or not referenced_columns(expr, [column]):
            continue
        copy = internal_name("c", name)
        moved = rename_columns(expr, {column: shadow})
        add_validated_constraint(work, copy, sql.SQL("CHECK (" + moved + ")"), is_check=True)
        _rename_constraint(work, table, copy, name)


def _copy_indexes(ctx: PlanContext, work: TableWork, column: str, shadow: str) -> None:
    """Indexes (and unique constraints) on the column are built on the shadow, concurrently."""
    table = ctx.qualified(work.table.name)
    for name, info in sorted(work.table.index_info.items()):
        if column not in info.columns:
            continue
        if info.expressions:
            raise ctx.fail(
                f"index '{name}' uses an expression on '{column}'",
                "drop the index in an earlier migration and create it again afterwards",
            )
        copy = internal_name("i", name)
        create_index_concurrently(
            ctx,
            name=copy,
            table=work.table.name,
            columns=[shadow if c == column else c for c in info.columns],
            unique=info.unique,
            method=info.method,
            where=rename_columns(info.where, {column: shadow}) if info.where else None,
        )
        rename = (
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}").format(
                table, sql.Identifier(name), sql.Identifier(copy)
            )
            if info.constraint
            else sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(ctx.schema, copy), sql.Identifier(name)
            )
        )
        work.changes.append(ContractStatement(rename))


def _refuse_referenced(ctx: PlanContext, work: TableWork, column: str) -> None:
    for table in ctx.catalog.tables.values():
        for name, fk in table.foreign_keys.items():
            if fk.ref_table == work.table.name and column in fk.ref_columns:
                raise ctx.fail(
                    f"column '{work.table.name}.{column}' is referenced by foreign key "
                    f"'{name}' of table '{table.name}'",
                    "drop that foreign key first (drop_constraint), then add it back",
                )


def _copy_foreign_keys(ctx: PlanContext, work: TableWork, column: str, shadow: str) -> None:
    """Foreign keys from the column hold for the shadow too (NOT VALID, then validated)."""
    table = ctx.qualified(work.table.name)
    for name, fk in sorted(work.table.foreign_keys.items()):
        if column not in fk.columns:
            continue
        copy = internal_name("f", name)
        columns = [shadow if c == column else c for c in fk.columns]
        rest = fk.definition[fk.definition.index(")") + 1 :]
        definition = sql.SQL("FOREIGN KEY ({}){}").format(ident_list(columns), sql.SQL(rest))
        add_validated_constraint(work, copy, definition, is_check=False)
        _rename_constraint(work, table, copy, name)


def _rename_constraint(work: TableWork, table: sql.Composable, copy: str, name: str) -> None:
    """At contract the copy on the shadow takes the original constraint's name."""
    rename = sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
        table, sql.Identifier(copy), sql.Identifier(name)
    )
    work.changes.append(ContractStatement(rename))


def apply(op: AlterColumn, catalog: Catalog) -> None:
    """The table once the migration is complete. A changed type or nullability moves
    the column to the end (a shadow column took its place) with its indexes and
    constraints; a rename or a new default keeps its place."""
    table = catalog.tables[op.table]
    col = table.column(op.column)
    if col is None:
        return
    new = Column(
        col.name,
        op.type or col.type,
        col.nullable if op.nullable is None else op.nullable,
        None if op.drop_default else (op.default or col.default),
        col.generated,
    )
    shadowed = (op.type is not None and op.type != col.type) or (
        op.nullable is not None and op.nullable != col.nullable
    )
    if shadowed:
        table.columns = [c for c in table.columns if c.name != col.name] + [new]
    else:
        table.replace_column(col.name, new)
    if op.name and op.name != col.name:
        catalog.rename_column(op.table, col.name, op.name)
