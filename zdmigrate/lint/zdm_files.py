"""Lint zdmigrate migration files: the SQL their plan runs, step by step.

A finding here is a bug in zdmigrate's plans, not in the migration. The
script shows each step as the executor runs it: transactional steps inside
BEGIN/COMMIT with a local lock_timeout, the others alone. Contract steps run
only after the gate has shown that the old version is gone, so the rules
about breaking the old version are suppressed for them (lock rules stay).
"""

from __future__ import annotations

from pathlib import Path

from zdmigrate.lint._source import Source

__all__ = ["is_migration_file", "migration_source"]

SUFFIXES = (".yaml", ".yml", ".json")
# Contract runs after the gate proved the old version gone, in one short transaction of
# catalog-only statements (SET NOT NULL relies on a CHECK validated at apply).
CONTRACT_IGNORES = (
    "drop-column",
    "drop-table",
    "drop-schema",
    "rename-column",
    "rename-table",
    "change-column-type",
    "set-not-null",
    "lock-held-across-statements",
)


def is_migration_file(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def _step_sql(step: object, lock_timeout_ms: int, contract: bool) -> str:
    from zdmigrate.plan.step import Step

    assert isinstance(step, Step)
    from pglast import split

    lines = [f"-- step {step.key}: {step.description}"]
    body = step.sql
    if contract:
        ignore = f"-- zdmigrate: ignore {', '.join(CONTRACT_IGNORES)} (contract, after the gate)"
        body = "\n".join(f"{ignore}\n{stmt};" for stmt in split(step.sql))
    if step.transactional:
        lines += ["BEGIN;", f"SET LOCAL lock_timeout = '{lock_timeout_ms}ms';", body, "COMMIT;"]
    else:
        lines += [f"SET lock_timeout = '{lock_timeout_ms}ms';", step.sql, "RESET lock_timeout;"]
    return "\n".join(lines)


def migration_source(path: Path, lock_timeout_ms: int = 500) -> Source:
    """The SQL ``zdmigrate apply`` then ``complete`` would run for ``path``, planned offline."""
    from zdmigrate.commands import earlier_files
    from zdmigrate.engine.runner import offline_catalog
    from zdmigrate.plan.builder import build_plan
    from zdmigrate.spec import load_migration

    migration = load_migration(path)
    catalog = offline_catalog("public", earlier_files(path))
    plan = build_plan(migration, catalog)
    parts = [_step_sql(s, lock_timeout_ms, False) for s in (*plan.expand, *plan.post_backfill)]
    parts += [_step_sql(s, lock_timeout_ms, True) for s in plan.contract]
    return Source(str(path), "\n\n".join(parts) + "\n", wrapped=False)
