"""sql: statements run as written at expand; ``down`` runs at rollback."""

from __future__ import annotations

from zdmigrate.ops._common import step_key
from zdmigrate.ops._work import PlanContext
from zdmigrate.plan.step import Lock, Phase, Step
from zdmigrate.spec.models import RawSql

__all__ = ["plan"]

_NOTE = "raw SQL: the lock depends on the statements; check them with 'zdmigrate lint'"


def plan(op: RawSql, ctx: PlanContext) -> None:
    ctx.expand_steps.append(
        Step(
            key=step_key(ctx, Phase.expand, "sql"),
            phase=Phase.expand,
            description="run the operation's SQL",
            sql=op.up if op.up.rstrip().endswith(";") else op.up + ";",
            lock=Lock.access_exclusive,
            notes=(_NOTE,),
        )
    )
    if op.down is None:
        return
    ctx.rollback_steps.append(
        Step(
            key=step_key(ctx, Phase.rollback, "sql"),
            phase=Phase.rollback,
            description="undo the operation's SQL",
            sql=op.down if op.down.rstrip().endswith(";") else op.down + ";",
            lock=Lock.access_exclusive,
            notes=(_NOTE,),
        )
    )
