"""Lint zdmigrate migration files: the SQL their plan runs, step by step.

A finding here is a bug in zdmigrate's plans, not in the migration. The
script shows each step as the executor sends it: transactional steps inside
BEGIN/COMMIT with their SET LOCAL timeouts, the others alone between SET and
RESET. Contract steps run
only after the gate has shown that the old version is gone, so the rules
about breaking the old version are suppressed for them (lock rules stay).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from zdmigrate.lint.source import Source

if TYPE_CHECKING:  # planning imports pydantic: only when a migration file is linted
    from collections.abc import Callable

    from zdmigrate.model.schema import Catalog
    from zdmigrate.model.step import Step
    from zdmigrate.plan import Timeouts

__all__ = ["is_migration_file", "migration_source"]

SUFFIXES = (".yaml", ".yml", ".json")

# Contract runs after the gate proved the old version gone, in one short transaction of
# catalog-only statements (SET NOT NULL relies on a CHECK validated at apply).
CONTRACT_IGNORES = (
    "drop-column",
    "drop-table",
    "drop-schema",
    "drop-constraint",
    "rename-column",
    "rename-table",
    "change-column-type",
    "set-not-null",
    "lock-held-across-statements",
)


def is_migration_file(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def _step_sql(step: Step, contract: bool) -> str:
    from pglast import split

    lines = [f"-- step {step.key}: {step.description}"]
    body = step.sql
    if contract:
        ignore = f"-- zdmigrate: ignore {', '.join(CONTRACT_IGNORES)} (contract, after the gate)"
        body = "\n".join(f"{ignore}\n{stmt};" for stmt in split(step.sql))
    statements = [*step.before, body, *step.after]
    if step.transactional:
        return "\n".join([*lines, "BEGIN;", *statements, "COMMIT;"])
    return "\n".join([*lines, *statements])


def migration_source(
    path: Path,
    *,
    schema: str = "public",
    schema_file: str | None = None,
    catalog: Catalog | None = None,
    timeouts: Timeouts | None = None,
    live: Callable[[str], Catalog | None] | None = None,
) -> Source:
    """The SQL ``zdmigrate apply`` then ``complete`` would send for ``path``: planned
    against ``catalog`` if given, else ``schema_file``, else the earlier files."""
    from zdmigrate.plan import Timeouts, plan_file

    plan = plan_file(
        path,
        schema=schema,
        schema_file=schema_file,
        catalog=catalog,
        timeouts=timeouts or Timeouts(),
        live=live,
    )
    parts = [_step_sql(s, False) for s in (*plan.expand, *plan.post_backfill)]
    parts += [_step_sql(s, True) for s in plan.contract]
    return Source(str(path), "\n\n".join(parts) + "\n", wrapped=False)
