"""SQL pieces shared by several operations."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from zdmigrate.ops._work import PlanContext, TableWork, internal_name
from zdmigrate.plan.step import Lock, Phase, Step

__all__ = [
    "add_not_null_check",
    "add_step",
    "add_unique_constraint",
    "add_validated_constraint",
    "create_index_concurrently",
    "ident_list",
    "step_key",
]


def ident_list(names: list[str] | tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def step_key(ctx: PlanContext, phase: Phase, what: str) -> str:
    return f"{phase.value}:{ctx.current_op}:{what}"


def add_step(
    ctx: PlanContext,
    phase: Phase,
    what: str,
    description: str,
    statement: sql.Composable | str,
    **fields: Any,
) -> None:
    """A step of the current operation, appended to its phase's list; ``what`` makes
    its key unique within the operation."""
    text = statement if isinstance(statement, str) else statement.as_string()
    text = text if text.rstrip().endswith(";") else text + ";"
    step = Step(
        key=step_key(ctx, phase, what),
        phase=phase,
        description=description,
        sql=text,
        **fields,
    )
    steps = {
        Phase.expand: ctx.expand_steps,
        Phase.contract: ctx.contract_steps,
        Phase.rollback: ctx.rollback_steps,
    }
    steps[phase].append(step)


def add_not_null_check(ctx: PlanContext, work: TableWork, column: str, final: str) -> None:
    """NOT NULL without a long lock: NOT VALID check, validated after the backfill,
    turned into SET NOT NULL (no scan on PostgreSQL 12+) at contract."""
    check = internal_name("nn", final)
    work.expand_constraints_lock = Lock.access_exclusive
    work.expand_constraints.append(
        sql.SQL("ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID").format(
            sql.Identifier(check), sql.Identifier(column)
        )
    )
    work.validate_constraints.append(check)
    work.contract_after_renames.append(
        sql.SQL("ALTER COLUMN {} SET NOT NULL").format(sql.Identifier(final))
    )
    work.contract_after_renames.append(sql.SQL("DROP CONSTRAINT {}").format(sql.Identifier(check)))


def add_validated_constraint(
    ctx: PlanContext, work: TableWork, name: str, definition: sql.Composable
) -> None:
    """CHECK or FOREIGN KEY: NOT VALID at expand, VALIDATE after the backfill.

    ADD CHECK takes ACCESS EXCLUSIVE (briefly); ADD FOREIGN KEY, SHARE ROW EXCLUSIVE.
    """
    is_check = definition.as_string().startswith("CHECK")
    lock = Lock.access_exclusive if is_check else Lock.share_row_exclusive
    if lock.rank > work.expand_constraints_lock.rank:
        work.expand_constraints_lock = lock
    work.expand_constraints.append(
        sql.SQL("ADD CONSTRAINT {} {} NOT VALID").format(sql.Identifier(name), definition)
    )
    work.validate_constraints.append(name)
    work.rollback_alters.append(
        sql.SQL("DROP CONSTRAINT IF EXISTS {}").format(sql.Identifier(name))
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
    """CREATE INDEX CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and writes go on)."""
    stmt = sql.SQL("CREATE {}INDEX CONCURRENTLY IF NOT EXISTS {} ON {} USING {} ({}){}").format(
        sql.SQL("UNIQUE " if unique else ""),
        sql.Identifier(name),
        ctx.qualified(table),
        sql.SQL(method),
        ident_list(columns),
        sql.SQL(" WHERE " + where) if where else sql.SQL(""),
    )
    add_step(
        ctx,
        Phase.expand,
        f"index:{name}",
        f"build index {name} on {table} without blocking writes",
        stmt,
        lock=Lock.share_update_exclusive,
        tables=(table,),
        scans=True,
        transactional=False,
        notes=(f"index:{name}",),
    )
    drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(ctx.schema, name))
    add_step(
        ctx,
        Phase.rollback,
        f"index:{name}",
        f"drop index {name}",
        drop,
        lock=Lock.share_update_exclusive,
        tables=(table,),
        transactional=False,
    )


def add_unique_constraint(ctx: PlanContext, table: str, name: str, columns: list[str]) -> None:
    """UNIQUE without blocking writes: build the index concurrently, then attach it."""
    create_index_concurrently(ctx, name=name, table=table, columns=columns, unique=True)
    attach = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}").format(
        ctx.qualified(table), sql.Identifier(name), sql.Identifier(name)
    )
    add_step(
        ctx,
        Phase.expand,
        f"unique:{name}",
        f"make index {name} the unique constraint of {table} (no scan)",
        attach,
        lock=Lock.access_exclusive,
        tables=(table,),
    )
    detach = sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
        ctx.qualified(table), sql.Identifier(name)
    )
    add_step(
        ctx,
        Phase.rollback,
        f"unique:{name}",
        f"drop unique constraint {name}",
        detach,
        lock=Lock.access_exclusive,
        tables=(table,),
    )
