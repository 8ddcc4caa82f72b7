"""Turn a migration and a catalog into a Plan: every Step of every phase."""

from __future__ import annotations

from psycopg import sql

from zdmigrate.engine.catalog import Catalog
from zdmigrate.errors import SpecError
from zdmigrate.ops import PLANNERS, PlanContext
from zdmigrate.ops._work import MARKER, TableWork
from zdmigrate.plan.backfill import BackfillSpec, VerifyPair, VerifySpec
from zdmigrate.plan.step import Lock, Phase, Plan, Step
from zdmigrate.plan.triggers import drop_trigger_sql, trigger_sql
from zdmigrate.plan.views import version_schema_name, views_sql
from zdmigrate.spec import Migration
from zdmigrate.spec import models as m

__all__ = ["build_plan"]

DEFAULT_MAJOR = 15


def _op_label(index: int, op: object) -> str:
    kind = type(op).model_fields["op"].default  # type: ignore[attr-defined]
    return f"operation {index + 1} ({kind})"


def _refuse_changes_to_new_table(ctx: PlanContext, op: object) -> None:
    """A table created by this migration is built at expand only by its create_table
    (and indexes); other changes to it would never be made, so refuse them."""
    if isinstance(op, (m.CreateTable, m.CreateIndex, m.DropIndex, m.RawSql)):
        return
    name = getattr(op, "table", None) or getattr(op, "from_", None)
    if any(w.created and w.new_name == name and not w.dropped for w in ctx.work.values()):
        raise ctx.fail(
            f"table '{name}' is created by an earlier operation of this migration",
            "define it as it should be in create_table, or change it in a later migration",
        )


def build_plan(migration: Migration, catalog: Catalog, mode: str = "version") -> Plan:
    """Every step of every phase; raises SpecError when an operation does not fit the catalog."""
    ctx = PlanContext(migration=migration.name, catalog=catalog, mode=mode)  # type: ignore[arg-type]
    for index, op in enumerate(migration.operations):
        ctx.current_op = _op_label(index, op)
        _refuse_changes_to_new_table(ctx, op)
        PLANNERS[type(op)](op, ctx)
    vschema = version_schema_name(catalog.schema, migration.name) if mode == "version" else None
    plan = Plan(migration=migration.name, mode=mode, version_schema=vschema)
    works = list(ctx.work.values())
    touched = [w for w in works if not w.created]
    for w in touched:
        _add_marker(w)
    plan.expand = [s for w in touched for s in _expand_table(ctx, w, vschema)]
    plan.expand += ctx.expand_steps
    if vschema is not None:
        plan.expand.append(_views_step(ctx, vschema))
    plan.backfill = [_backfill_spec(ctx, w) for w in touched if w.needs_backfill]
    plan.verify = [
        _verify_spec(b, w)
        for b, w in zip(plan.backfill, [w for w in touched if w.needs_backfill], strict=True)
    ]
    plan.post_backfill = [s for w in touched for s in _validate_steps(ctx, w)]
    plan.contract = [s for w in touched for s in _contract_table(ctx, w, vschema)]
    plan.contract += ctx.contract_steps
    plan.rollback = _rollback(ctx, touched, vschema)
    implicit: set[tuple[str, str]] = {
        (_op_label(index, op), field)
        for index, op in enumerate(migration.operations)
        for field in ("up", "down")
        if field in type(op).model_fields and getattr(op, field) is None
    }
    plan.checks = [c for w in touched for c in _expression_checks(ctx, w, implicit)]
    plan.tables = sorted({w.table.name for w in works} | {w.new_name for w in works})
    return plan


def _expression_checks(
    ctx: PlanContext, w: TableWork, implicit: set[tuple[str, str]]
) -> list[tuple[str, str]]:
    """EXPLAIN queries that fail when an up/down expression names a missing column,
    calls a missing function or does not cast to the column's type. ``implicit``:
    the (operation, field) pairs the user left out, whose expression is a cast."""
    table = ctx.qualified(w.table.name).as_string()
    present = {c.name for c in w.table.columns}
    new_row = ", ".join(
        (
            sql.SQL("{} AS {}").format(sql.Identifier(c.source), sql.Identifier(c.name))
            if c.source in present
            else sql.SQL("CAST(NULL AS {}) AS {}").format(sql.SQL(c.type), sql.Identifier(c.name))
        ).as_string()
        for c in w.view_columns
    )
    checks = []
    for t in w.transforms:
        source = table if t.direction == "up" else f"(SELECT {new_row} FROM {table}) AS t"
        field = "up" if t.direction == "up" else "down"
        where = f"{t.label}, field '{field}'"
        if (t.label, field) in implicit:
            where = f"{t.label}, field 'type' (no '{field}' given, so the value is cast)"
        checks.append(
            (
                where,
                f"EXPLAIN SELECT CAST(({t.expr}) AS {t.type}) FROM {source}",
            )
        )
    return checks


def _add_marker(work: TableWork) -> None:
    if work.needs_backfill:
        work.expand_alters.append(
            sql.SQL("ADD COLUMN {} boolean DEFAULT true").format(sql.Identifier(MARKER))
        )
        work.contract_alters.append(sql.SQL("DROP COLUMN {}").format(sql.Identifier(MARKER)))
        work.rollback_alters.append(
            sql.SQL("DROP COLUMN IF EXISTS {}").format(sql.Identifier(MARKER))
        )


def _alter(ctx: PlanContext, table: str, parts: list[sql.Composable]) -> str:
    return (
        sql.SQL("ALTER TABLE {}\n  {};")
        .format(ctx.qualified(table), sql.SQL(",\n  ").join(parts))
        .as_string()
    )


def _expand_table(ctx: PlanContext, w: TableWork, vschema: str | None) -> list[Step]:
    """New columns with their trigger in one short transaction, so no write ever sees
    one without the other; NOT VALID constraints after, once the trigger fills rows."""
    name = w.table.name
    steps = []
    stmts = []
    if w.transforms:
        function, trigger = trigger_sql(w, ctx.migration, ctx.schema, vschema)
        stmts.append(function)
    if w.expand_alters:
        stmts.append(_alter(ctx, name, w.expand_alters))
    if w.transforms:
        stmts.append(trigger)
    stmts += [c.as_string() + ";" for c in w.expand_comments]
    if stmts:
        lock = Lock.access_exclusive if w.expand_alters else Lock.share_row_exclusive
        what = (
            "add new columns and the dual-write trigger to"
            if w.transforms
            else ("add new columns to")
        )
        steps.append(
            Step(
                key=f"expand:table:{name}",
                phase=Phase.expand,
                description=f"{what} {name}",
                sql="\n".join(stmts),
                lock=lock,
                tables=(name,),
                notes=("brief lock: no rewrite, no scan (nullable or constant default)",),
            )
        )
    if w.expand_constraints:
        steps.append(
            Step(
                key=f"expand:constraints:{name}",
                phase=Phase.expand,
                description=f"add NOT VALID constraints to {name} (checked for new writes only)",
                sql=_alter(ctx, name, w.expand_constraints),
                lock=w.expand_constraints_lock,
                tables=(name,),
                notes=("brief lock: NOT VALID skips the scan; validated after the backfill",),
            )
        )
    return steps


def _views_step(ctx: PlanContext, vschema: str) -> Step:
    works = {w.table.name: w for w in ctx.work.values()}
    for table in ctx.catalog.tables.values():
        if table.name not in works:
            works[table.name] = ctx.table_work(table.name)
    major = ctx.catalog.server_major or DEFAULT_MAJOR
    return Step(
        key="expand:version-schema",
        phase=Phase.expand,
        description=f"create version schema {vschema} (one view per table, new shape)",
        sql=views_sql(vschema, ctx.schema, list(works.values()), major),
        lock=Lock.access_share,
        notes=(f"new app: options=-c search_path={vschema},{ctx.schema}",),
    )


def _backfill_spec(ctx: PlanContext, w: TableWork) -> BackfillSpec:
    key = w.table.key()
    if key is None:
        raise SpecError(
            f"{ctx.migration}: table '{w.table.name}' has no primary key or unique NOT NULL "
            "key, so its rows cannot be backfilled in batches",
            "add a primary key (create_constraint, or a unique index on NOT NULL columns) first",
        )
    types = tuple(w.table.column(k).type for k in key)  # type: ignore[union-attr]
    assignments = tuple((t.target, t.expr, t.type) for t in w.transforms if t.backfill)
    return BackfillSpec(ctx.schema, w.table.name, key, types, assignments)


def _verify_spec(b: BackfillSpec, w: TableWork) -> VerifySpec:
    ups = {t.target: t for t in w.transforms if t.direction == "up" and t.backfill}
    pairs = []
    for down in (t for t in w.transforms if t.direction == "down"):
        up = next((u for u in ups.values() if u.label == down.label), None)
        if up is not None:
            pairs.append(VerifyPair(up.target, up.expr, up.type, down.target, down.expr, down.type))
    new_row = tuple((c.name, c.source) for c in w.view_columns)
    return VerifySpec(b.schema, b.table, b.key, b.key_types, tuple(pairs), new_row)


def _validate_steps(ctx: PlanContext, w: TableWork) -> list[Step]:
    return [
        Step(
            key=f"validate:{w.table.name}:{name}",
            phase=Phase.expand,
            description=f"validate constraint {name} (reads and writes go on)",
            sql=sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {};")
            .format(ctx.qualified(w.table.name), sql.Identifier(name))
            .as_string(),
            lock=Lock.share_update_exclusive,
            tables=(w.table.name,),
            scans=True,
        )
        for name in w.validate_constraints
    ]


def _contract_table(ctx: PlanContext, w: TableWork, vschema: str | None) -> list[Step]:
    name = w.table.name
    stmts: list[str] = []
    if w.transforms:
        stmts += drop_trigger_sql(ctx.migration, ctx.schema, name, if_exists=False)
    if w.contract_alters:
        stmts.append(_alter(ctx, name, w.contract_alters))
    for old, new in w.contract_renames:
        stmts.append(
            sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {};")
            .format(ctx.qualified(name), sql.Identifier(old), sql.Identifier(new))
            .as_string()
        )
    if w.contract_after_renames:
        stmts.append(_alter(ctx, name, w.contract_after_renames))
    stmts += [c.as_string() + ";" for c in w.contract_statements]
    if w.new_name != name and not w.dropped:
        stmts.append(
            sql.SQL("ALTER TABLE {} RENAME TO {};")
            .format(ctx.qualified(name), sql.Identifier(w.new_name))
            .as_string()
        )
    if not stmts:
        return []
    return [
        Step(
            key=f"contract:table:{name}",
            phase=Phase.contract,
            description=f"switch {name} to its new shape",
            sql="\n".join(stmts),
            lock=Lock.access_exclusive,
            tables=(name,),
            notes=(
                "brief lock: catalog-only changes (SET NOT NULL relies on the CHECK "
                "validated during apply: no scan)",
            ),
        )
    ]


def _rollback(ctx: PlanContext, touched: list[TableWork], vschema: str | None) -> list[Step]:
    steps: list[Step] = []
    if vschema is not None:
        steps.append(
            Step(
                key="rollback:version-schema",
                phase=Phase.rollback,
                description=f"drop version schema {vschema}",
                sql=sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE;")
                .format(sql.Identifier(vschema))
                .as_string(),
            )
        )
    steps += list(reversed(ctx.rollback_steps))
    for w in touched:
        stmts: list[str] = []
        if w.transforms:
            stmts += drop_trigger_sql(ctx.migration, ctx.schema, w.table.name, if_exists=True)
        if w.rollback_alters:
            stmts.append(_alter(ctx, w.table.name, w.rollback_alters))
        if stmts:
            steps.append(
                Step(
                    key=f"rollback:table:{w.table.name}",
                    phase=Phase.rollback,
                    description=f"remove what expand added to {w.table.name}",
                    sql="\n".join(stmts),
                    lock=Lock.access_exclusive,
                    tables=(w.table.name,),
                )
            )
    return steps
