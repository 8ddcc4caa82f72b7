"""apply, complete and rollback: the phases of a migration against a live server."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from zdmigrate._phases import LIVE_PHASES
from zdmigrate._version import __version__
from zdmigrate.config import Settings
from zdmigrate.engine.backfill import Progress, run_backfill, unfinished
from zdmigrate.engine.db import connect, translate_errors
from zdmigrate.engine.executor import Executor
from zdmigrate.engine.introspect import introspect
from zdmigrate.engine.state import init_state
from zdmigrate.engine.store import MigrationRow, Store
from zdmigrate.engine.verify import Verification, verify_specs
from zdmigrate.errors import (
    ConcurrentRunError,
    MigrationEdited,
    SpecError,
    StateError,
    VerifyMismatch,
    ZdmError,
)
from zdmigrate.model.schema import Catalog, catalog_from_json, catalog_to_json
from zdmigrate.model.step import Plan, Step
from zdmigrate.plan.builder import Timeouts, build_plan, build_plans, drop_version_schema
from zdmigrate.plan.stored import changed_phases, plan_to_json
from zdmigrate.spec import Migration, parse_migration

__all__ = [
    "ApplyResult",
    "CleanupResult",
    "PhaseResult",
    "already",
    "apply",
    "cleanup",
    "complete",
    "contract_drops",
    "gate",
    "rollback",
    "same_content",
    "set_paused",
    "verify",
]

Conn = psycopg.Connection[Any]
Echo = Callable[[str], None]
ProgressFn = Callable[[Progress], None]


@dataclass
class ApplyResult:
    name: str
    phase: str
    version_schema: str | None
    search_path: str | None
    steps_run: int
    rows_backfilled: int
    resumed: bool
    tables: list[str] = field(default_factory=list)
    # every version schema, one per schema the migration changes
    version_schemas: list[str] = field(default_factory=list)
    # "expanded" or "completed" when an earlier apply got there: nothing ran
    already: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PhaseResult:
    name: str
    phase: str
    steps_run: int
    # older version schemas that contract did not drop: sessions still use them
    kept: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@contextmanager
def _session(settings: Settings, name: str) -> Iterator[tuple[Conn, Store]]:
    with connect(settings.database_url) as conn, translate_errors(name):
        init_state(conn)
        store = Store(conn)
        store.lock_migration(name)
        yield conn, store


def timeouts(settings: Settings) -> Timeouts:
    b = settings.backfill
    return Timeouts(settings.lock_timeout_ms, settings.statement_timeout_ms, b.walk, b.max_sessions)


def _replan(row: MigrationRow, settings: Settings, older: tuple[tuple[str, str], ...]) -> Plan:
    """The plan this zdmigrate makes of the stored file and schema (schemas)."""
    migration = parse_migration(row.source, row.name, f"{row.name} (as applied)")
    assert row.catalog is not None
    if "parts" not in row.catalog:
        catalog = catalog_from_json(row.catalog)
        return build_plan(migration, catalog, row.mode, timeouts(settings), older)
    catalogs = {s: catalog_from_json(c) for s, c in row.catalog["parts"].items()}
    default = row.catalog["default_schema"]
    return build_plans(
        migration, catalogs.__getitem__, default, row.mode, timeouts(settings), older
    )


def _catalogs_json(catalogs: dict[str, Catalog], default: str) -> dict[str, Any]:
    """The schema model(s) a plan was made against, as stored with the migration."""
    if len(catalogs) == 1:
        return catalog_to_json(next(iter(catalogs.values())))
    parts = {s: catalog_to_json(c) for s, c in catalogs.items()}
    return {"default_schema": default, "parts": parts}


def stored_plan(row: MigrationRow, settings: Settings, echo: Echo | None = None) -> Plan:
    """The plan ``apply`` stored; with ``echo``, say where this zdmigrate would now plan
    differently (the stored steps still run: they are what was reviewed)."""
    plan = row.stored_plan
    if plan is None:  # applied by a zdmigrate that stored no plan
        if echo is not None:
            echo(f"{row.name} was applied by an older zdmigrate that stored no plan: re-planned")
        return _replan(row, settings, ())
    if echo is not None:
        try:
            now = _replan(row, settings, tuple(plan.older_version_schemas))
        except ZdmError as exc:  # this zdmigrate would refuse the file: the plan still runs
            echo(f"note: zdmigrate {__version__} would not plan {row.name} now ({exc.message})")
            return plan
        changed = changed_phases(plan, now)
        if changed:
            echo(
                f"note: zdmigrate {__version__} would now plan {', '.join(changed)} of "
                f"{row.name} differently; running the plan stored at apply "
                f"(by zdmigrate {row.planned_by})"
            )
    return plan


def _check_expressions(conn: Conn, migration: Migration, plan: Plan) -> None:
    for check in plan.checks:
        try:
            with conn.transaction():
                conn.execute(check.sql)
        except psycopg.Error as exc:
            message = str(exc).strip().splitlines()[0]
            raise SpecError(
                f"{migration.path}: {check.description}: {message}",
                "fix the expression; it must compute the column's value from the row",
            ) from None


def _refuse_conflicts(store: Store, migration: Migration, schema: str, tables: list[str]) -> None:
    """One migration at a time on a table; the message names the file refused, as
    ``apply migrations/`` may be applying any of several."""
    for other, shared in store.conflicts(migration.name, schema, tables):
        raise ConcurrentRunError(
            f"{migration.path}: migration '{other}' is still in flight on {', '.join(shared)}",
            f"complete or roll back '{other}' first",
        )


def _refuse_taken_version_schema(store: Store, name: str, vschema: str | None) -> None:
    """``<schema>_<migration>`` can name two migrations (schema ``a_b`` with ``c``, ``a``
    with ``b_c``), or a schema that is not zdmigrate's: never share one."""
    if vschema is None:
        return
    other = store.version_schema_owner(name, vschema)
    if other is not None:
        raise SpecError(
            f"{name}: its version schema {vschema} is already the one of migration "
            f"'{other[0]}' (schema {other[1]})",
            "rename this migration file (its name is the version schema's second half)",
        )
    exists = store.conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (vschema,)).fetchone()
    if exists and exists[0]:
        raise SpecError(
            f"{name}: schema {vschema}, which would be its version schema, already exists",
            f"rename this migration file, or drop schema {vschema} if nothing uses it",
        )


def missing_schemas(conn: Conn, migration: Migration, default: str) -> None:
    """Refuse a migration that names a schema the database does not have."""
    for schema, _ in migration.split(default):
        found = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (schema,)).fetchone()
        if not (found and found[0]):
            raise SpecError(
                f"{migration.path}: schema '{schema}' does not exist in the database",
                "check the schema of the qualified table names, 'schema:' and --schema, "
                "or create the schema first",
            )


def same_content(row: MigrationRow, migration: Migration) -> bool:
    """Whether ``row`` stored this migration: the same content hash, the hash of the
    same bytes (what zdmigrate stored before content hashes), or a stored text that
    reads as the same migration (applied before, then reformatted or commented)."""
    if row.sha256 in (migration.content_hash, migration.sha256):
        return True
    if not row.source:
        return False
    try:
        stored = parse_migration(row.source, row.name, f"{row.name} (as applied)")
    except ZdmError:
        return False
    return stored.content_hash == migration.content_hash


_DONE_PHASES = ("expanded", "completing", "completed")


def already(row: MigrationRow | None, migration: Migration) -> ApplyResult | None:
    """The result of an apply that has nothing left to do: an earlier one expanded (or
    completed) this migration. A file that changed since is refused."""
    if row is None or row.phase not in _DONE_PHASES:
        return None
    if not same_content(row, migration):
        verb = "completed" if row.phase == "completed" else "applied"
        raise MigrationEdited(
            f"{migration.path} changed after it was {verb} (phase {row.phase})",
            "write a new migration file for further changes"
            if row.phase == "completed"
            else f"restore the applied file, or run 'zdmigrate rollback {migration.name}' first",
        )
    live = row.phase != "completed" and row.version_schema
    plan = row.stored_plan
    search_path = None
    if live:
        search_path = plan.search_path if plan else f"{row.version_schema},{row.schema_name}"
    return ApplyResult(
        migration.name,
        row.phase,
        row.version_schema,
        search_path,
        0,
        0,
        False,
        list(row.tables),
        plan.version_schemas if plan else [v for v in [row.version_schema] if v],
        already=row.phase,
    )


def _begin(
    conn: Conn,
    store: Store,
    migration: Migration,
    settings: Settings,
    row: MigrationRow | None,
    echo: Echo,
) -> tuple[Plan, bool]:
    """The plan to run, and whether this run resumes an earlier one."""
    if row is not None and row.phase == "failed" and same_content(row, migration):
        # an undo after a failure stopped half way: some expand steps are undone but still
        # marked done, so resuming would skip them. Finish the undo, then start afresh.
        echo("finishing the undo of the failed run first")
        Executor(conn, settings, migration.name, "apply-undo", echo).run_all(
            stored_plan(row, settings).rollback
        )
        store.forget_progress(migration.name)
        store.set_phase(migration.name, "rolled_back")
        row = store.get(migration.name)
    if row is not None and row.phase in LIVE_PHASES:
        if not same_content(row, migration):
            raise MigrationEdited(
                f"{migration.path} changed after it was applied (phase {row.phase})",
                f"restore the applied file, or run 'zdmigrate rollback {migration.name}' first",
            )
        return stored_plan(row, settings, echo), True
    default = settings.schema_name
    missing_schemas(conn, migration, default)
    schemas = [schema for schema, _ in migration.split(default)]
    catalogs = {schema: introspect(conn, schema) for schema in schemas}
    older = tuple(store.predecessors_to_drop(migration.name, schemas))
    plan = build_plans(
        migration, catalogs.__getitem__, default, settings.mode, timeouts(settings), older
    )
    _check_expressions(conn, migration, plan)
    for part in plan.schema_parts:
        _refuse_conflicts(store, migration, part.schema, part.tables)
        _refuse_taken_version_schema(store, migration.name, part.version_schema)
    source = migration.source_text
    store.start(
        name=migration.name,
        sha256=migration.content_hash,
        mode=settings.mode,
        schema=plan.schema,
        version_schema=plan.version_schema,
        tables=plan.tables,
        source=source,
        catalog=_catalogs_json(catalogs, default),
        plan=plan_to_json(plan),
        planned_by=__version__,
        parts=[(p.schema, p.version_schema, p.tables) for p in plan.schema_parts],
    )
    return plan, False


def unfilled(conn: Conn, row: MigrationRow) -> list[str]:
    """What an expanded migration's backfill has left to fill (a partition attached with
    rows after the walk): apply then resumes instead of reporting 'already expanded'."""
    plan = row.stored_plan
    if plan is None:
        return []
    where = {b.checkpoint_name: (b.schema, b.table) for b in plan.backfill}
    return unfinished(conn, row.name, row.schema_name, where)


def apply(
    settings: Settings, migration: Migration, echo: Echo, progress: ProgressFn
) -> ApplyResult:
    """Expand and backfill; on a failure, undo what this migration did."""
    with _session(settings, migration.name) as (conn, store):
        row = store.get(migration.name)
        done = already(row, migration)
        if done is not None and not (row and row.phase == "expanded" and unfilled(conn, row)):
            return done
        plan, resumed = _begin(conn, store, migration, settings, row, echo)
        executor = Executor(conn, settings, migration.name, "apply", echo)
        try:
            ran, rows = _expand_and_backfill(conn, store, executor, plan, settings, progress)
        except VerifyMismatch as exc:
            store.set_phase(migration.name, "failed", exc.message)
            raise
        except ZdmError as exc:
            _undo_after_failure(conn, store, executor, plan, exc, echo)
            raise
        return ApplyResult(
            migration.name,
            "expanded",
            plan.version_schema,
            plan.search_path,
            ran,
            rows,
            resumed,
            plan.tables,
            plan.version_schemas,
        )


def _expand_and_backfill(
    conn: Conn,
    store: Store,
    executor: Executor,
    plan: Plan,
    settings: Settings,
    progress: ProgressFn,
) -> tuple[int, int]:
    ran = executor.run_all(plan.expand)
    store.set_phase(plan.migration, "backfilling")
    rows = 0
    assert settings.database_url is not None
    for spec in plan.backfill:
        rows += run_backfill(settings.database_url, store, plan.migration, spec, settings, progress)
    ran += executor.run_all(plan.post_backfill)
    if settings.verify and plan.verify:
        report = verify_specs(
            settings.database_url, plan.migration, plan.verify, settings.verify_report_limit
        )
        if not report.ok:
            raise VerifyMismatch(report.summary(), report)
    store.set_phase(plan.migration, "expanded")
    return ran, rows


def _undo_after_failure(
    conn: Conn, store: Store, executor: Executor, plan: Plan, exc: ZdmError, echo: Echo
) -> None:
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()
    if not executor.done:
        store.set_phase(plan.migration, "rolled_back", exc.message)
        return
    echo("undoing what this migration did so far")
    try:
        undo = Executor(conn, executor.settings, plan.migration, "apply-undo", echo)
        undo.done = set()
        undo.run_all(_undo_steps(plan, executor.done))
    except ZdmError as again:
        store.set_phase(plan.migration, "failed", exc.message)
        exc.message += (
            f"; undoing it failed too ({again.message}): run 'zdmigrate rollback "
            f"{plan.migration}' or 'zdmigrate apply' again"
        )
        return
    store.forget_progress(plan.migration)
    store.set_phase(plan.migration, "rolled_back", exc.message)
    exc.message += "; every change of this migration was undone"


_TABLE_EXPAND_STEPS = ("table", "constraints")


def _undo_steps(plan: Plan, done: set[str]) -> list[Step]:
    """The rollback steps for what ran: a table's rollback undoes its expand steps, so it
    is left out when none of them ran, and then never waits for that table's lock."""

    def expanded(table: str) -> bool:
        return any(f"expand:{kind}:{table}" in done for kind in _TABLE_EXPAND_STEPS)

    return [
        s
        for s in plan.rollback
        if not s.key.startswith("rollback:table:") or expanded(s.key[len("rollback:table:") :])
    ]


def _live_row(store: Store, name: str, allowed: tuple[str, ...], command: str) -> MigrationRow:
    row = store.get(name)
    if row is None:
        raise StateError(f"no migration named '{name}'", "zdmigrate status lists migrations")
    if row.phase not in allowed:
        raise StateError(
            f"cannot {command} '{name}': it is {row.phase}",
            "zdmigrate status shows what each migration is doing",
        )
    return row


Gate = Callable[[Conn, MigrationRow, Plan], Any]
# the sessions using a version: (migration, version schema) -> evidence, one per session
Users = Callable[[str, str], list[dict[str, Any]]]


def gate(settings: Settings, name: str, check: Gate) -> Any:
    """The gate's report on a migration that can be completed; changes nothing else."""
    with _session(settings, name) as (conn, store):
        row = _live_row(store, name, ("expanded", "completing"), "check the gate of")
        return check(conn, row, stored_plan(row, settings))


def complete(
    settings: Settings, name: str, echo: Echo, check: Gate, users: Users | None = None
) -> PhaseResult:
    """Contract: the gate decides first; then old columns, triggers and old versions go.
    With ``users``, an older version schema that sessions still use is kept."""
    with _session(settings, name) as (conn, store):
        row = _live_row(store, name, ("expanded", "completing"), "complete")
        plan = stored_plan(row, settings, echo)
        if row.phase == "expanded":  # a contract that stopped half way is finished as it is
            check(conn, row, plan)
        now = store.predecessors_to_drop(name, [p.schema for p in plan.schema_parts])
        contract = _with_later_predecessors(plan, row, now, settings, echo)
        kept = _in_use(contract, contract_drops(plan, now), users, echo) if users else []
        kept_keys = {_drop_key(k["version_schema"]) for k in kept}
        store.set_phase(name, "completing")
        executor = Executor(conn, settings, name, "complete", echo)
        try:
            ran = executor.run_all([s for s in contract if s.key not in kept_keys])
        except ZdmError as exc:
            tables = [s for s in contract if s.key not in _drop_keys(contract)]
            if not any(step.key in executor.done for step in tables):
                # Nothing was contracted: both versions still work, rollback stays possible.
                store.set_phase(name, "expanded", exc.message)
                exc.message += f"; nothing was contracted, '{name}' is still expanded"
            raise
        for other, vschema in now:  # not one that completed meanwhile: its drop did not run
            if _drop_key(vschema) not in kept_keys:
                store.mark_version_schema_dropped(conn, other, vschema)
        store.forget_progress(name)
        store.set_phase(name, "completed")
        return PhaseResult(name, "completed", ran, kept)


def contract_drops(plan: Plan, predecessors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(migration, version schema) of every older version schema contract drops: those
    in the stored plan, and the completed ``predecessors`` (``Store.predecessors_to_drop``),
    among them those that completed after apply."""
    return list(dict.fromkeys([*plan.older_version_schemas, *predecessors]))


def _drop_key(vschema: str) -> str:
    return f"contract:drop-version:{vschema}"


def _in_use(
    steps: list[Step], older: list[tuple[str, str]], users: Users, echo: Echo
) -> list[dict[str, Any]]:
    """The older version schemas among ``steps``' drops that sessions still use."""
    planned = {s.key for s in steps}
    kept = []
    for migration, vschema in older:
        if _drop_key(vschema) not in planned:
            continue
        evidence = users(migration, vschema)
        if not evidence:
            continue
        kept.append({"migration": migration, "version_schema": vschema, "evidence": evidence})
        echo(
            f"kept version schema {vschema} of {migration}: {evidence[0]['summary']}"
            + (f" (and {len(evidence) - 1} more)" if len(evidence) > 1 else "")
            + "; a later complete or 'zdmigrate cleanup' drops it once no session uses it"
        )
    return kept


@dataclass
class CleanupResult:
    dropped: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def cleanup(
    settings: Settings, echo: Echo, users: Users, force: bool = False, dry_run: bool = False
) -> CleanupResult:
    """Drop the version schemas that completed migrations replaced but contract kept
    because sessions used them; those still in use stay unless ``force``."""
    result = CleanupResult(dry_run=dry_run)
    with connect(settings.database_url) as conn, translate_errors("cleanup"):
        init_state(conn)
        store = Store(conn)
        for migration, vschema in store.superseded_version_schemas():
            store.lock_migration(migration)
            step = timeouts(settings).wrap(drop_version_schema(migration, vschema))
            evidence = users(migration, vschema)
            entry = {"migration": migration, "version_schema": vschema, "sql": step.sql}
            if evidence and not force:
                result.kept.append({**entry, "evidence": evidence})
                echo(f"kept {vschema} of {migration}: {evidence[0]['summary']}")
                continue
            result.dropped.append({**entry, "evidence": evidence})
            if dry_run:
                echo(f"would drop {vschema} of {migration}: {step.sql}")
                continue
            if evidence:
                store.audit(
                    conn,
                    migration=migration,
                    command="cleanup",
                    step=step.key,
                    phase="cleanup",
                    status="forced",
                    detail={"os_user": getpass.getuser(), "evidence": evidence},
                )
            Executor(conn, settings, migration, "cleanup", echo).run(step)
            store.mark_version_schema_dropped(conn, migration, vschema)
            store.forget_progress(migration)
    return result


def _drop_keys(steps: list[Step]) -> set[str]:
    return {s.key for s in steps if s.key.startswith("contract:drop-version:")}


def _with_later_predecessors(
    plan: Plan, row: MigrationRow, now: list[tuple[str, str]], settings: Settings, echo: Echo
) -> list[Step]:
    """The stored contract, and first the drop of the version schemas among ``now`` (the
    completed predecessors) of migrations that completed after this one was applied
    (so the stored plan could not list them)."""
    known = set(plan.older_version_schemas)
    later = tuple(p for p in now if p not in known)
    if not later:
        return plan.contract
    names = ", ".join(v for _, v in later)
    echo(f"also dropping {names}: completed after {row.name} was applied, so not in its plan")
    drops = [timeouts(settings).wrap(drop_version_schema(*p)) for p in later]
    return drops + plan.contract


def rollback(settings: Settings, name: str, echo: Echo, check: Gate | None = None) -> PhaseResult:
    """Remove every trace of expand, at any point before contract. ``check`` (the gate
    in the other direction) runs first, unless a rollback already began."""
    allowed = ("expanding", "backfilling", "expanded", "rolling_back", "failed")
    with _session(settings, name) as (conn, store):
        row = _live_row(store, name, allowed, "roll back")
        plan = stored_plan(row, settings, echo)
        if check is not None and row.phase != "rolling_back":
            check(conn, row, plan)
        if row.phase != "rolling_back":
            store.forget_progress(name)
        store.set_phase(name, "rolling_back")
        executor = Executor(conn, settings, name, "rollback", echo)
        ran = executor.run_all(plan.rollback)
        store.forget_progress(name)
        store.set_phase(name, "rolled_back")
        return PhaseResult(name, "rolled_back", ran)


def verify(settings: Settings, name: str) -> Verification:
    """Check the rows of a migration whose backfill ran; does not change anything."""
    assert settings.database_url is not None
    with connect(settings.database_url) as conn, translate_errors(name):
        init_state(conn)
        row = _live_row(Store(conn), name, LIVE_PHASES, "verify")
        plan = stored_plan(row, settings)
    return verify_specs(settings.database_url, name, plan.verify, settings.verify_report_limit)


def set_paused(settings: Settings, name: str, paused: bool) -> PhaseResult:
    with connect(settings.database_url) as conn, translate_errors(name):
        init_state(conn)
        store = Store(conn)
        row = _live_row(store, name, LIVE_PHASES, "pause" if paused else "resume")
        store.set_paused(name, paused)
        return PhaseResult(name, row.phase + (" (paused)" if paused else ""), 0)
