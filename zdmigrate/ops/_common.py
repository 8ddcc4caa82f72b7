"""SQL pieces shared by several operations."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from zdmigrate.model.schema import ForeignKey, Table, internal_name
from zdmigrate.model.step import Cleanup, Lock, Phase, Step
from zdmigrate.ops.work import ContractAlter, NotValidConstraint, PlanContext, TableWork
from zdmigrate.spec.models import ColumnDef

__all__ = [
    "add_not_null_check",
    "add_step",
    "add_unique_constraint",
    "add_validated_constraint",
    "apply_column_constraints",
    "create_index_concurrently",
    "ident_list",
]


def ident_list(names: list[str] | tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def add_step(
    ctx: PlanContext,
    phase: Phase,
    what: str,
    description: str,
    statement: sql.Composable | str,
    **fields: Any,
) -> None:
    """A step of the current operation; ``what`` makes its key unique within the operation."""
    text = statement if isinstance(statement, str) else statement.as_string()
    text = text if text.rstrip().endswith(";") else text + ";"
    key = f"{phase.value}:{ctx.current_op}:{what}"
    ctx.steps.append(Step(key=key, phase=phase, description=description, sql=text, **fields))


def add_not_null_check(ctx: PlanContext, work: TableWork, column: str, final: str) -> None:
    """NOT NULL without a long lock: NOT VALID check, validated after the backfill,
    turned into SET NOT NULL (no scan on PostgreSQL 12+) at contract."""
    check = internal_name("nn", final)
    definition = sql.SQL("CHECK ({} IS NOT NULL)").format(sql.Identifier(column))
    work.changes += [
        NotValidConstraint(check, definition, Lock.access_exclusive, dropped_at_rollback=False),
        ContractAlter(sql.SQL("ALTER COLUMN {} SET NOT NULL").format(sql.Identifier(final)), True),
        ContractAlter(sql.SQL("DROP CONSTRAINT {}").format(sql.Identifier(check)), True),
    ]


def add_validated_constraint(
    work: TableWork, name: str, definition: sql.Composable, is_check: bool
) -> None:
    """CHECK or FOREIGN KEY: NOT VALID at expand, VALIDATE after the backfill.

    ADD CHECK takes ACCESS EXCLUSIVE (briefly); ADD FOREIGN KEY, SHARE ROW EXCLUSIVE.
    """
    lock = Lock.access_exclusive if is_check else Lock.share_row_exclusive
    work.changes.append(NotValidConstraint(name, definition, lock))


def _invalid_index_cleanup(schema: str, name: str) -> Cleanup:
    check = sql.SQL(
        "SELECT EXISTS (SELECT FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_namespace n ON n.oid = i.relnamespace "
        "WHERE n.nspname = {} AND i.relname = {} AND NOT x.indisvalid);"
    ).format(sql.Literal(schema), sql.Literal(name))
    drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {};").format(sql.Identifier(schema, name))
    return Cleanup(
        check.as_string(),
        drop.as_string(),
        f"index {name} was left INVALID by an interrupted build: rebuilding it",
    )


def create_index_concurrently(
    ctx: PlanContext,
    *,
    name: str,
    table: str,
    columns: list[str],
    unique: bool = False,
    method: str = "btree",
    where: str | None = None,
) -> None:
    """CREATE INDEX CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and writes go on).

    A failed concurrent build leaves an INVALID index that ``IF NOT EXISTS`` would
    keep: the step's cleanup drops it first. A partitioned table cannot build an
    index concurrently: see ``_partitioned_index``."""
    known = ctx.catalog.table(table)
    if known is not None and known.partitioned:
        _partitioned_index(ctx, name, table, columns, unique, method, where)
        return
    stmt = _create_index(name, ctx.qualified(table), columns, unique, method, where, True)
    alone = {"lock": Lock.share_update_exclusive, "tables": (table,), "transactional": False}
    build = f"build index {name} on {table} without blocking writes"
    cleanup = _invalid_index_cleanup(ctx.schema, name)
    add_step(ctx, Phase.expand, f"index:{name}", build, stmt, scans=True, cleanup=cleanup, **alone)
    drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(ctx.schema, name))
    add_step(ctx, Phase.rollback, f"index:{name}", f"drop index {name}", drop, **alone)


def _create_index(
    name: str,
    on: sql.Composable,
    columns: list[str],
    unique: bool,
    method: str,
    where: str | None,
    concurrently: bool,
) -> sql.Composable:
    return sql.SQL("CREATE {}INDEX {}IF NOT EXISTS {} ON {} USING {} ({}){}").format(
        sql.SQL("UNIQUE " if unique else ""),
        sql.SQL("CONCURRENTLY " if concurrently else ""),
        sql.Identifier(name),
        on,
        sql.SQL(method),
        ident_list(columns),
        sql.SQL(" WHERE " + where) if where else sql.SQL(""),
    )


def _partitioned_index(
    ctx: PlanContext,
    name: str,
    table: str,
    columns: list[str],
    unique: bool,
    method: str,
    where: str | None,
) -> None:
    """The index of a partitioned table without blocking writes: an empty (invalid)
    index on the partitioned table alone (ON ONLY: no build), one index built
    concurrently on each partition, then each attached; with the last one attached
    the index is valid. A partition created later gets its index with it."""
    partitions = sorted(t.name for t in ctx.catalog.tables.values() if t.partition_of == table)
    nested = [p for p in partitions if (t := ctx.catalog.table(p)) is not None and t.partitioned]
    if nested:
        raise ctx.fail(
            f"table '{table}' has partitions that are partitioned themselves ({nested[0]})",
            "build the index on each level by hand (sql operation), or index fewer levels",
        )
    only = sql.SQL("ONLY {}").format(ctx.qualified(table))
    parent = _create_index(name, only, columns, unique, method, where, False)
    brief = {"lock": Lock.share, "tables": (table,)}
    add_step(
        ctx,
        Phase.expand,
        f"index:{name}",
        f"create index {name} on {table} alone (partitioned: no rows, nothing built yet)",
        parent,
        notes=("brief lock: ON ONLY builds nothing; each partition is indexed next",),
        **brief,
    )
    attach = []
    for part in partitions:
        child = internal_name("ip", part, name.removeprefix("_zdm_"))
        stmt = _create_index(child, ctx.qualified(part), columns, unique, method, where, True)
        add_step(
            ctx,
            Phase.expand,
            f"index:{name}:{part}",
            f"build index {child} on partition {part} without blocking writes",
            stmt,
            scans=True,
            cleanup=_invalid_index_cleanup(ctx.schema, child),
            lock=Lock.share_update_exclusive,
            tables=(part,),
            transactional=False,
        )
        attach.append(
            sql.SQL("ALTER INDEX {} ATTACH PARTITION {};")
            .format(sql.Identifier(ctx.schema, name), sql.Identifier(ctx.schema, child))
            .as_string()
        )
    if attach:
        add_step(
            ctx,
            Phase.expand,
            f"index:{name}:attach",
            f"attach the partitions' indexes to {name} (it is valid once all are)",
            "\n".join(attach),
            lock=Lock.share_update_exclusive,
            tables=(table, *partitions),
        )
    drop = sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(ctx.schema, name))
    add_step(
        ctx,
        Phase.rollback,
        f"index:{name}",
        f"drop index {name} and its partitions' indexes",
        drop,
        lock=Lock.access_exclusive,
        tables=(table,),
    )


def add_unique_constraint(ctx: PlanContext, table: str, name: str, columns: list[str]) -> None:
    """UNIQUE without blocking writes: build the index concurrently, then attach it."""
    known = ctx.catalog.table(table)
    if known is not None and known.partitioned:
        raise ctx.fail(
            f"a UNIQUE constraint cannot be added to partitioned table '{table}' from an "
            "index built without blocking writes (PostgreSQL has no USING INDEX for them)",
            "create a unique index instead (create_index with unique: true), whose columns "
            "include the partition key",
        )
    create_index_concurrently(ctx, name=name, table=table, columns=columns, unique=True)
    attach = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}").format(
        ctx.qualified(table), sql.Identifier(name), sql.Identifier(name)
    )
    detach = sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
        ctx.qualified(table), sql.Identifier(name)
    )
    brief = {"lock": Lock.access_exclusive, "tables": (table,)}
    what = f"make index {name} the unique constraint of {table} (no scan)"
    add_step(ctx, Phase.expand, f"unique:{name}", what, attach, **brief)
    add_step(
        ctx, Phase.rollback, f"unique:{name}", f"drop unique constraint {name}", detach, **brief
    )


def apply_column_constraints(table: Table, column: ColumnDef) -> None:
    """The CHECK, foreign key and UNIQUE of a column definition, named as the server
    names them (``<table>_<column>_check``, ``_fkey``, ``_key``)."""
    prefix = f"{table.name}_{column.name}"
    if column.check is not None:
        table.add_check(f"{prefix}_check", column.check)
    if column.references is not None:
        ref = column.references
        fk = ForeignKey.of([column.name], ref.table, list(ref.columns), ref.on_delete)
        table.add_foreign_key(f"{prefix}_fkey", fk)
    if column.unique:
        table.add_unique(f"{prefix}_key", (column.name,))
