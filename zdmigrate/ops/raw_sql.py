"""sql: statements run as written at expand; ``down`` runs at rollback."""

from __future__ import annotations

from zdmigrate.model.step import Lock, Phase
from zdmigrate.ops._common import add_step
from zdmigrate.ops.work import PlanContext
from zdmigrate.spec.models import RawSql

__all__ = ["plan"]

_NOTE = "raw SQL: the lock depends on the statements; check them with 'zdmigrate lint'"


def plan(op: RawSql, ctx: PlanContext) -> None:
    lock, notes = Lock.access_exclusive, (_NOTE,)
    add_step(ctx, Phase.expand, "sql", "run the operation's SQL", op.up, lock=lock, notes=notes)
    if op.down is not None:
        add_step(
            ctx, Phase.rollback, "sql", "undo the operation's SQL", op.down, lock=lock, notes=notes
        )
