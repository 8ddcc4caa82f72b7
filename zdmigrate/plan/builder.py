"""Turn a migration and a schema model into a Plan: every statement of every phase.

Operations record typed changes per table (``ops.work``); this module decides
their order: a table's new columns with its trigger in one short transaction,
its NOT VALID constraints after, their validation after the backfill, and
all its contract changes in one short lock. Every step carries the statements
sent around it (timeouts), so the plan is exactly what the executor sends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from psycopg import sql

from zdmigrate.errors import SpecError
from zdmigrate.model.schema import MARKER, Catalog
from zdmigrate.model.step import Deprecated, Lock, Phase, Plan, SchemaPart, Step
from zdmigrate.ops import OPERATIONS, PlanContext, TableWork
from zdmigrate.ops.work import (
    ColumnRename,
    Comment,
    ContractAlter,
    ContractStatement,
    ExpandAlter,
    NotValidConstraint,
    Retired,
)
from zdmigrate.plan.backfill import BackfillSpec, VerifyPair, VerifySpec, Walk
from zdmigrate.plan.grants import shadow_grants_sql
from zdmigrate.plan.triggers import drop_trigger_sql, trigger_sql, writes_counter_sql
from zdmigrate.plan.views import version_schema_name, views_sql
from zdmigrate.spec import Migration
from zdmigrate.spec import models as m

__all__ = ["Timeouts", "build_plan", "build_plans", "drop_version_schema", "search_path"]

DEFAULT_MAJOR = 15


@dataclass(frozen=True)
class Timeouts:
    """How the plan's work runs: the lock and statement timeouts every step runs under
    (0: no statement timeout), and how the backfill walks a table."""

    lock_ms: int = 500
    statement_ms: int = 0
    backfill_walk: Walk = "blocks"
    backfill_sessions: int = 2  # at most, for a block walk, while no other session is at work

    def wrap(self, step: Step) -> Step:
        """``step`` with the statements sent around it: SET LOCAL inside its transaction,
        or a session SET and RESET around a step that runs alone."""
        values = (("lock_timeout", self.lock_ms), ("statement_timeout", self.statement_ms))
        if step.transactional:
            before = tuple(f"SET LOCAL {name} = '{ms}ms';" for name, ms in values)
            return replace(step, before=before)
        before = tuple(f"SET {name} = '{ms}ms';" for name, ms in values)
        after = tuple(f"RESET {name};" for name, _ in values)
        return replace(step, before=before, after=after)


def _op_label(number: int, op: object) -> str:
    kind = type(op).model_fields["op"].default  # type: ignore[attr-defined]
    return f"operation {number} ({kind})"


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


def build_plan(
    migration: Migration,
    catalog: Catalog,
    mode: str = "version",
    timeouts: Timeouts = Timeouts(),
    older_version_schemas: tuple[tuple[str, str], ...] = (),
    part_of: tuple[str, ...] = (),
) -> Plan:
    """Every step of every phase; raises SpecError when an operation does not fit the schema.

    ``older_version_schemas``: (migration, version schema) of completed migrations that
    contract drops, since the old version that used them is gone then. ``part_of``: the
    schemas of a migration that spans several, whose part in ``catalog``'s this is.
    """
    ctx = PlanContext(migration=migration.name, catalog=catalog, mode=mode)  # type: ignore[arg-type]
    ctx.scoped = bool(part_of)
    for index, op in enumerate(migration.operations):
        ctx.current_op = _op_label(migration.number(index), op)
        _refuse_changes_to_new_table(ctx, op)
        OPERATIONS[type(op)].plan(op, ctx)
    vschema = version_schema_name(catalog.schema, migration.name) if mode == "version" else None
    plan = Plan(migration.name, mode, vschema, catalog.schema)
    works = list(ctx.work.values())
    touched = [w for w in works if not w.created]
    for w in touched:
        _add_marker(w)
    counted = any(w.transforms for w in touched)
    plan.expand = [_counter_step(ctx, Phase.expand)] if counted else []
    path = search_path(migration.name, part_of) if part_of and vschema else None
    plan.expand += [s for w in touched for s in _expand_table(ctx, w, vschema, path)]
    plan.expand += ctx.phase_steps(Phase.expand)
    if vschema is not None:
        plan.expand.append(_views_step(ctx, vschema, path))
    backfilled = [w for w in touched if w.needs_backfill]
    plan.backfill = [_backfill_spec(ctx, w, timeouts) for w in backfilled]
    plan.verify = [_verify_spec(b, w) for b, w in zip(plan.backfill, backfilled, strict=True)]
    plan.post_backfill = [s for w in touched for s in _validate_steps(ctx, w)]
    plan.older_version_schemas = list(older_version_schemas)
    plan.contract = [drop_version_schema(*older) for older in older_version_schemas]
    plan.contract += [s for w in touched for s in _contract_table(ctx, w)]
    if counted:
        plan.contract.append(_counter_step(ctx, Phase.contract))
    plan.contract += ctx.phase_steps(Phase.contract)
    plan.rollback = _rollback(ctx, touched, vschema)
    if counted:
        plan.rollback.append(_counter_step(ctx, Phase.rollback))
    plan.deprecated = [
        Deprecated(catalog.schema, w.table.name, c.column, c.why)
        for w in touched
        for c in w.changes
        if isinstance(c, Retired)
    ]
    for phase in ("expand", "post_backfill", "contract", "rollback"):
        setattr(plan, phase, [timeouts.wrap(s) for s in getattr(plan, phase)])
    implicit: set[tuple[str, str]] = {
        (_op_label(migration.number(index), op), field)
        for index, op in enumerate(migration.operations)
        for field in ("up", "down")
        if field in type(op).model_fields and getattr(op, field) is None
    }
    plan.checks = [c for w in touched for c in _expression_checks(ctx, w, implicit)]
    plan.tables = sorted({w.table.name for w in works} | {w.new_name for w in works})
    return plan


def _expression_checks(
    ctx: PlanContext, w: TableWork, implicit: set[tuple[str, str]]
) -> list[Step]:
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
    for i, t in enumerate(w.transforms):
        source = table if t.direction == "up" else f"(SELECT {new_row} FROM {table}) AS t"
        field = "up" if t.direction == "up" else "down"
        where = f"{t.label}, field '{field}'"
        if (t.label, field) in implicit:
            where = f"{t.label}, field 'type' (no '{field}' given, so the value is cast)"
        checks.append(
            Step(
                key=f"check:{w.table.name}:{i + 1}",
                phase=Phase.check,
                description=where,
                sql=f"EXPLAIN SELECT CAST(({t.expr}) AS {t.type}) FROM {source};",
                lock=Lock.access_share,
                tables=(w.table.name,),
            )
        )
    return checks


def _add_marker(work: TableWork) -> None:
    if work.needs_backfill:
        marker = sql.Identifier(MARKER)
        work.changes += [
            ExpandAlter(
                sql.SQL("ADD COLUMN {} boolean DEFAULT true").format(marker),
                sql.SQL("DROP COLUMN IF EXISTS {}").format(marker),
            ),
            ContractAlter(sql.SQL("DROP COLUMN {}").format(marker)),
        ]


def _table_step(
    phase: Phase, table: str, description: str, stmts: list[str], lock: Lock, note: str = ""
) -> Step:
    """The one step of ``phase`` that changes ``table`` (its key: ``<phase>:table:<name>``)."""
    return Step(
        key=f"{phase.value}:table:{table}",
        phase=phase,
        description=description,
        sql="\n".join(stmts),
        lock=lock,
        tables=(table,),
        notes=(note,) if note else (),
    )


def _alter(ctx: PlanContext, table: str, parts: list[sql.Composable]) -> str:
    return (
        sql.SQL("ALTER TABLE {}\n  {};")
        .format(ctx.qualified(table), sql.SQL(",\n  ").join(parts))
        .as_string()
    )


def _expand_table(
    ctx: PlanContext, w: TableWork, vschema: str | None, path: str | None
) -> list[Step]:
    """New columns with their trigger in one short transaction, so no write ever sees
    one without the other; NOT VALID constraints after, once the trigger fills rows."""
    name = w.table.name
    steps = []
    stmts = []
    alters = [c.clause for c in w.changes if isinstance(c, ExpandAlter)]
    if w.transforms:
        function, triggers = trigger_sql(w, ctx.migration, ctx.schema, vschema, ctx.scoped, path)
        stmts.append(function)
    if alters:
        stmts.append(_alter(ctx, name, alters))
    if w.transforms:
        stmts += triggers
    if alters:
        stmts += shadow_grants_sql(ctx.schema, w)
    stmts += [c.statement.as_string() + ";" for c in w.changes if isinstance(c, Comment)]
    if stmts:
        lock = Lock.access_exclusive if alters else Lock.share_row_exclusive
        what = (
            "add new columns and the dual-write trigger to"
            if w.transforms
            else "add new columns to"
        )
        note = "brief lock: no rewrite, no scan (nullable or constant default)"
        steps.append(_table_step(Phase.expand, name, f"{what} {name}", stmts, lock, note))
    constraints = [c for c in w.changes if isinstance(c, NotValidConstraint)]
    if constraints:
        clauses: list[sql.Composable] = [
            sql.SQL("ADD CONSTRAINT {} {} NOT VALID").format(sql.Identifier(c.name), c.definition)
            for c in constraints
        ]
        steps.append(
            Step(
                key=f"expand:constraints:{name}",
                phase=Phase.expand,
                description=f"add NOT VALID constraints to {name} (checked for new writes only)",
                sql=_alter(ctx, name, clauses),
                lock=max((c.lock for c in constraints), key=lambda lock: lock.rank),
                tables=(name,),
                notes=("brief lock: NOT VALID skips the scan; validated after the backfill",),
            )
        )
    return steps


def _counter_step(ctx: PlanContext, phase: Phase) -> Step:
    """The old-version write counter the gate reads: created before the triggers that
    take its values, dropped after them."""
    create, drop = writes_counter_sql(ctx.migration, ctx.schema)
    made = phase is Phase.expand
    what = "create" if made else "drop"
    return Step(
        key=f"{phase.value}:writes-counter",
        phase=phase,
        description=f"{what} the counter of old-version writes (read by the gate)",
        sql="\n".join(create if made else drop),
        lock=Lock.none,
    )


def _views_step(ctx: PlanContext, vschema: str, path: str | None) -> Step:
    works = {w.table.name: w for w in ctx.work.values()}
    for table in ctx.catalog.tables.values():
        # a partition is reached through its partitioned table's view
        if table.name not in works and table.partition_of is None:
            works[table.name] = ctx.table_work(table.name)
    major = ctx.catalog.server_major or DEFAULT_MAJOR
    return Step(
        key="expand:version-schema",
        phase=Phase.expand,
        description=f"create version schema {vschema} (one view per table, new shape)",
        sql=views_sql(
            vschema,
            ctx.schema,
            list(works.values()),
            major,
            ctx.catalog.default_grants,
            ctx.grant_changes,
        ),
        lock=Lock.access_share,
        notes=(f"new app: options=-c search_path={path or f'{vschema},{ctx.schema}'}",),
    )


def _backfill_spec(ctx: PlanContext, w: TableWork, timeouts: Timeouts) -> BackfillSpec:
    key = w.table.key()
    if key is None:
        raise SpecError(
            f"{ctx.migration}: table '{w.table.name}' has no primary key or unique NOT NULL "
            "key, so its rows cannot be backfilled in batches",
            "add a primary key (create_constraint, or a unique index on NOT NULL columns) first",
        )
    types = tuple(w.table.column(k).type for k in key)  # type: ignore[union-attr]
    assignments = tuple((t.target, t.expr, t.type) for t in w.transforms if t.backfill)
    walk = timeouts.backfill_walk
    return BackfillSpec(
        ctx.schema,
        w.table.name,
        key,
        types,
        assignments,
        walk,
        w.table.partitioned,
        sessions=timeouts.backfill_sessions if walk == "blocks" else 1,
    )


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
            key=f"validate:{w.table.name}:{c.name}",
            phase=Phase.expand,
            description=f"validate constraint {c.name} (reads and writes go on)",
            sql=sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {};")
            .format(ctx.qualified(w.table.name), sql.Identifier(c.name))
            .as_string(),
            lock=Lock.share_update_exclusive,
            tables=(w.table.name,),
            scans=True,
        )
        for c in w.changes
        if isinstance(c, NotValidConstraint)
    ]


def drop_version_schema(migration: str, vschema: str) -> Step:
    """Contract of a later migration: the old version that used ``vschema`` is gone."""
    return Step(
        key=f"contract:drop-version:{vschema}",
        phase=Phase.contract,
        description=f"drop version schema {vschema} of completed migration {migration} "
        "(skipped and kept while a session uses it; 'zdmigrate cleanup' drops it later)",
        sql=sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE;")
        .format(sql.Identifier(vschema))
        .as_string(),
        lock=Lock.none,
    )


def _contract_table(ctx: PlanContext, w: TableWork) -> list[Step]:
    name = w.table.name
    table = ctx.qualified(name)
    stmts: list[str] = []
    if w.transforms:
        stmts += drop_trigger_sql(
            ctx.migration, ctx.schema, name, False, w.needs_backfill, ctx.scoped
        )
    alters = [c for c in w.changes if isinstance(c, ContractAlter)]
    before = [c.clause for c in alters if not c.after_renames]
    if before:
        stmts.append(_alter(ctx, name, before))
    for r in (c for c in w.changes if isinstance(c, ColumnRename)):
        stmts.append(
            sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {};")
            .format(table, sql.Identifier(r.old), sql.Identifier(r.new))
            .as_string()
        )
    after = [c.clause for c in alters if c.after_renames]
    if after:
        stmts.append(_alter(ctx, name, after))
    stmts += [c.statement.as_string() + ";" for c in w.changes if isinstance(c, ContractStatement)]
    if w.new_name != name and not w.dropped:
        stmts.append(
            sql.SQL("ALTER TABLE {} RENAME TO {};")
            .format(table, sql.Identifier(w.new_name))
            .as_string()
        )
    if not stmts:
        return []
    note = (
        "brief lock: catalog-only changes (SET NOT NULL relies on the CHECK "
        "validated during apply: no scan)"
    )
    description = f"switch {name} to its new shape"
    return [_table_step(Phase.contract, name, description, stmts, Lock.access_exclusive, note)]


def _undo_clauses(w: TableWork) -> list[sql.Composable]:
    out: list[sql.Composable] = []
    for c in w.changes:
        if isinstance(c, ExpandAlter) and c.undo is not None:
            out.append(c.undo)
        elif isinstance(c, NotValidConstraint) and c.dropped_at_rollback:
            out.append(sql.SQL("DROP CONSTRAINT IF EXISTS {}").format(sql.Identifier(c.name)))
    return out


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
    steps += list(reversed(ctx.phase_steps(Phase.rollback)))
    for w in touched:
        stmts: list[str] = []
        if w.transforms:
            stmts += drop_trigger_sql(
                ctx.migration, ctx.schema, w.table.name, True, w.needs_backfill, ctx.scoped
            )
        undo = _undo_clauses(w)
        if undo:
            stmts.append(_alter(ctx, w.table.name, undo))
        if stmts:
            what = f"remove what expand added to {w.table.name}"
            steps.append(
                _table_step(Phase.rollback, w.table.name, what, stmts, Lock.access_exclusive)
            )
    return steps


def search_path(migration: str, schemas: tuple[str, ...] | list[str]) -> str:
    """The new version's search_path: every version schema of the migration, then the
    schemas of its tables (so a name resolves to its view before its table)."""
    return ",".join([*(version_schema_name(s, migration) for s in schemas), *schemas])


def build_plans(
    migration: Migration,
    catalog_of: Callable[[str], Catalog],
    default_schema: str,
    mode: str = "version",
    timeouts: Timeouts = Timeouts(),
    older_version_schemas: tuple[tuple[str, str], ...] = (),
) -> Plan:
    """The plan of a migration whose tables may be in several schemas (``catalog_of``
    reads one schema's model). One schema: ``build_plan``. Several: one part per schema
    (its own version schema, triggers and views), run one after the other in the order
    the file first names them; every step's key, tables and description name its schema."""
    older = older_version_schemas
    parts = build_plan_parts(migration, catalog_of, default_schema, mode, timeouts, older)
    if len(parts) == 1:
        return parts[0][1]
    return join_plan_parts(migration, [p for _, p in parts], mode, timeouts, older)


def build_plan_parts(
    migration: Migration,
    catalog_of: Callable[[str], Catalog],
    default_schema: str,
    mode: str = "version",
    timeouts: Timeouts = Timeouts(),
    older_version_schemas: tuple[tuple[str, str], ...] = (),
) -> list[tuple[str, Plan]]:
    """Each schema's own plan of a migration (what ``build_plans`` joins when there are
    several, and what ``apply --dry-run`` checks schema by schema). One schema: the whole
    migration's plan, with ``older_version_schemas`` dropped at contract; several leave
    those to ``join_plan_parts``."""
    split = migration.split(default_schema)
    schemas = tuple(schema for schema, _ in split)
    if len(split) == 1:  # the whole migration: no part of several
        catalog = catalog_of(schemas[0])
        return [(schemas[0], build_plan(migration, catalog, mode, timeouts, older_version_schemas))]
    if mode == "version":
        _refuse_shared_version_schema(migration, schemas)
    return [
        (schema, build_plan(part, catalog_of(schema), mode, timeouts, (), schemas))
        for schema, part in split
    ]


def join_plan_parts(
    migration: Migration,
    parts: list[Plan],
    mode: str,
    timeouts: Timeouts,
    older_version_schemas: tuple[tuple[str, str], ...] = (),
) -> Plan:
    """One plan of the schemas' parts, run one after the other."""
    first = parts[0]
    plan = Plan(migration.name, mode, first.version_schema, first.schema)
    plan.parts = [SchemaPart(p.schema, p.version_schema, list(p.tables)) for p in parts]
    for name in Plan.STEP_LISTS:
        setattr(plan, name, [_scoped(st, p.schema) for p in parts for st in getattr(p, name)])
    plan.backfill = [
        replace(b, checkpoint=f"{p.schema}.{b.table}") for p in parts for b in p.backfill
    ]
    plan.verify = [v for p in parts for v in p.verify]
    plan.older_version_schemas = list(older_version_schemas)
    drops = [timeouts.wrap(drop_version_schema(*older)) for older in older_version_schemas]
    plan.contract = drops + plan.contract
    plan.deprecated = [d for p in parts for d in p.deprecated]
    plan.tables = sorted({t for p in parts for t in p.tables})
    return plan


def _refuse_shared_version_schema(migration: Migration, schemas: tuple[str, ...]) -> None:
    """Two schemas of one migration whose version schemas would have one name
    (``Crm`` and ``crm``: the name is lower case)."""
    seen: dict[str, str] = {}
    for schema in schemas:
        vschema = version_schema_name(schema, migration.name)
        if vschema in seen:
            raise SpecError(
                f"{migration.path}: schemas '{seen[vschema]}' and '{schema}' would both get "
                f"version schema {vschema}",
                "change the tables of one of them in a migration file of its own",
            )
        seen[vschema] = schema


def _scoped(step: Step, schema: str) -> Step:
    """A step of one schema's part: its key, tables and description name the schema."""
    return replace(
        step,
        key=f"{step.key}@{schema}",
        tables=tuple(f"{schema}.{t}" for t in step.tables),
        description=f"[{schema}] {step.description}",
    )
