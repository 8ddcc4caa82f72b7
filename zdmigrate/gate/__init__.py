"""The contract gate: evidence that nothing still uses what contract removes.

``contract_gate`` returns the check ``complete`` runs before contract. This
is where the evidence sources of DESIGN.md plug in; today it checks the
migration's own state: every backfill finished and nothing is paused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from zdmigrate.engine.store import MigrationRow
from zdmigrate.errors import GateRefused

__all__ = ["contract_gate"]

Conn = psycopg.Connection[Any]


def _unfinished_backfills(conn: Conn, name: str) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM zdmigrate.backfill_checkpoints "
        "WHERE migration = %s AND status <> 'done' ORDER BY 1",
        (name,),
    ).fetchall()
    return [r[0] for r in rows]


def contract_gate(force: bool) -> Callable[[Conn, MigrationRow], None]:
    def check(conn: Conn, row: MigrationRow) -> None:
        evidence = [f"backfill of {t} not finished" for t in _unfinished_backfills(conn, row.name)]
        if row.paused:
            evidence.append("the migration is paused")
        conn.execute(
            "INSERT INTO zdmigrate.gate_decisions (migration, decision, forced, report) "
            "VALUES (%s, %s, %s, %s)",
            (
                row.name,
                "blocked" if evidence and not force else "clear",
                force and bool(evidence),
                psycopg.types.json.Jsonb({"evidence": evidence}),
            ),
        )
        if evidence and not force:
            raise GateRefused(f"cannot complete '{row.name}': " + "; ".join(evidence), evidence)

    return check
