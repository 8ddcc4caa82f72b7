"""Reading and writing migration state in the ``zdmigrate`` schema."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from zdmigrate._phases import LIVE_PHASES
from zdmigrate.errors import ConcurrentRunError
from zdmigrate.model.step import Plan
from zdmigrate.plan.stored import plan_from_json

__all__ = ["MigrationRow", "Store"]

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class MigrationRow:
    name: str
    sha256: str
    phase: str
    mode: str
    schema_name: str
    version_schema: str | None
    tables: list[str]
    source: str
    catalog: dict[str, Any] | None
    paused: bool
    plan: dict[str, Any] | None
    planned_by: str | None

    @functools.cached_property
    def stored_plan(self) -> Plan | None:
        """The plan apply stored, read once (None: applied by a zdmigrate that stored none)."""
        return plan_from_json(self.plan) if self.plan is not None else None


class Store:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def get(self, name: str) -> MigrationRow | None:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "SELECT name, sha256, phase, mode, schema_name, version_schema, tables, source, "
                "catalog, paused, plan, planned_by FROM zdmigrate.migrations WHERE name = %s",
                (name,),
            )
            row = cur.fetchone()
        return MigrationRow(**row) if row else None

    def lock_migration(self, name: str) -> None:
        """Session advisory lock: one zdmigrate process per migration."""
        got = self.conn.execute(
            "SELECT pg_try_advisory_lock(hashtextextended('zdmigrate:' || %s, 0))", (name,)
        ).fetchone()
        if not got or not got[0]:
            raise ConcurrentRunError(
                f"migration '{name}' is being run by another zdmigrate process",
                "wait for it to finish (zdmigrate status shows its progress)",
            )

    def conflicts(self, name: str, schema: str, tables: list[str]) -> list[tuple[str, list[str]]]:
        rows = self.conn.execute(
            "SELECT s.migration, s.tables FROM zdmigrate.migration_schemas s "
            "JOIN zdmigrate.migrations m ON m.name = s.migration WHERE s.migration <> %s "
            "AND m.phase = ANY(%s) AND s.schema_name = %s AND s.tables && %s::text[]",
            (name, list(LIVE_PHASES), schema, tables),
        ).fetchall()
        return [(r[0], [t for t in r[1] if t in tables]) for r in rows]

    def version_schema_owner(self, name: str, vschema: str) -> tuple[str, str] | None:
        """(migration, schema) of another migration whose version schema is ``vschema``."""
        row = self.conn.execute(
            "SELECT s.migration, s.schema_name FROM zdmigrate.migration_schemas s "
            "JOIN zdmigrate.migrations m ON m.name = s.migration WHERE s.version_schema = %s "
            "AND s.migration <> %s AND NOT s.version_schema_dropped "
            "AND m.phase <> 'rolled_back'",
            (vschema, name),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def start(
        self,
        *,
        name: str,
        sha256: str,
        mode: str,
        schema: str,
        version_schema: str | None,
        tables: list[str],
        source: str,
        catalog: dict[str, Any],
        plan: dict[str, Any],
        planned_by: str,
        parts: list[tuple[str, str | None, list[str]]] | None = None,
    ) -> None:
        """Record a migration as it starts; ``parts``: (schema, version schema, tables)
        of each schema it changes (default: the one ``schema``)."""
        self.conn.execute(
            """
            INSERT INTO zdmigrate.migrations (name, sha256, phase, mode, schema_name,
                version_schema, tables, source, catalog, plan, planned_by)
            VALUES (%s, %s, 'expanding', %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256, phase = 'expanding',
                mode = EXCLUDED.mode, schema_name = EXCLUDED.schema_name,
                version_schema = EXCLUDED.version_schema, tables = EXCLUDED.tables,
                source = EXCLUDED.source, catalog = EXCLUDED.catalog, plan = EXCLUDED.plan,
                planned_by = EXCLUDED.planned_by, started_at = now(),
                expanded_at = NULL, backfilled_at = NULL, completed_at = NULL,
                rolled_back_at = NULL, error = NULL, paused = false,
                version_schema_dropped = false, updated_at = now()
            """,
            (
                name,
                sha256,
                mode,
                schema,
                version_schema,
                tables,
                source,
                Jsonb(catalog),
                Jsonb(plan),
                planned_by,
            ),
        )
        self.conn.execute("DELETE FROM zdmigrate.migration_schemas WHERE migration = %s", (name,))
        given = parts or [(schema, version_schema, tables)]
        for position, (part_schema, part_vschema, part_tables) in enumerate(given):
            self.conn.execute(
                "INSERT INTO zdmigrate.migration_schemas (migration, schema_name, "
                "version_schema, tables, position) VALUES (%s, %s, %s, %s, %s)",
                (name, part_schema, part_vschema, part_tables, position),
            )
        self.forget_progress(name)

    def forget_progress(self, name: str) -> None:
        self.conn.execute("DELETE FROM zdmigrate.steps_done WHERE migration = %s", (name,))
        self.conn.execute(
            "DELETE FROM zdmigrate.backfill_checkpoints WHERE migration = %s", (name,)
        )

    _STAMPS: ClassVar[dict[str, str]] = {
        "backfilling": "expanded_at",
        "expanded": "backfilled_at",
        "completed": "completed_at",
        "rolled_back": "rolled_back_at",
    }

    def set_phase(self, name: str, phase: str, error: str | None = None) -> None:
        stamp = self._STAMPS.get(phase)
        extra = f", {stamp} = now()" if stamp else ""
        self.conn.execute(
            f"UPDATE zdmigrate.migrations SET phase = %s, error = %s, updated_at = now(){extra} "
            "WHERE name = %s",
            (phase, error, name),
        )

    def done_steps(self, name: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT step FROM zdmigrate.steps_done WHERE migration = %s", (name,)
        ).fetchall()
        return {r[0] for r in rows}

    def mark_done(self, conn: Conn, name: str, step: str) -> None:
        conn.execute(
            "INSERT INTO zdmigrate.steps_done (migration, step) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING",
            (name, step),
        )

    def audit(self, conn: Conn, **fields: Any) -> None:
        detail = fields.pop("detail", None)
        cols = ", ".join(fields)
        marks = ", ".join(["%s"] * len(fields))
        conn.execute(
            f"INSERT INTO zdmigrate.audit_log ({cols}, detail) VALUES ({marks}, %s)",
            (*fields.values(), Jsonb(detail) if detail is not None else None),
        )

    def predecessors_to_drop(self, name: str, schemas: list[str]) -> list[tuple[str, str]]:
        """Version schemas, for ``schemas``, of completed migrations started before ``name``
        (before now, if it has not started): completing ``name`` drops them."""
        rows = self.conn.execute(
            "SELECT s.migration, s.version_schema FROM zdmigrate.migration_schemas s "
            "JOIN zdmigrate.migrations m ON m.name = s.migration WHERE s.migration <> %s "
            "AND m.phase = 'completed' AND s.schema_name = ANY(%s) "
            "AND s.version_schema IS NOT NULL AND NOT s.version_schema_dropped "
            "AND m.started_at < COALESCE("
            "(SELECT started_at FROM zdmigrate.migrations WHERE name = %s), now()) "
            "ORDER BY m.completed_at, s.version_schema",
            (name, list(schemas), name),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def superseded_version_schemas(self) -> list[tuple[str, str]]:
        """Version schemas of completed migrations that a later completed migration of the
        same schema has replaced but that are still there (kept while in use)."""
        rows = self.conn.execute(
            "SELECT s.migration, s.version_schema FROM zdmigrate.migration_schemas s "
            "JOIN zdmigrate.migrations m ON m.name = s.migration "
            "WHERE m.phase = 'completed' AND s.version_schema IS NOT NULL "
            "AND NOT s.version_schema_dropped AND EXISTS (SELECT 1 FROM "
            "zdmigrate.migration_schemas t JOIN zdmigrate.migrations n ON n.name = t.migration "
            "WHERE n.phase = 'completed' AND t.schema_name = s.schema_name "
            "AND n.started_at > m.started_at) ORDER BY m.completed_at, s.version_schema"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def mark_version_schema_dropped(self, conn: Conn, name: str, vschema: str) -> None:
        """``vschema`` of migration ``name`` is gone; once all of its are, so says the
        migration's row (status shows no search_path for it then)."""
        conn.execute(
            "UPDATE zdmigrate.migration_schemas SET version_schema_dropped = true "
            "WHERE migration = %s AND version_schema = %s",
            (name, vschema),
        )
        conn.execute(
            "UPDATE zdmigrate.migrations SET version_schema_dropped = NOT EXISTS (SELECT 1 "
            "FROM zdmigrate.migration_schemas WHERE migration = %s AND version_schema "
            "IS NOT NULL AND NOT version_schema_dropped) WHERE name = %s",
            (name, name),
        )

    def set_paused(self, name: str, paused: bool, why: str = "") -> bool:
        """Pause (with why, when zdmigrate paused by itself) or resume a backfill."""
        cur = self.conn.execute(
            "UPDATE zdmigrate.migrations SET paused = %s, paused_why = %s, updated_at = now() "
            "WHERE name = %s",
            (paused, why if paused else "", name),
        )
        return cur.rowcount == 1

    def paused_why(self, name: str) -> str | None:
        """None while the backfill may run; else why it waits ('' for a user's pause)."""
        row = self.conn.execute(
            "SELECT paused, paused_why FROM zdmigrate.migrations WHERE name = %s", (name,)
        ).fetchone()
        return row[1] if row and row[0] else None

    def is_paused(self, name: str) -> bool:
        return self.paused_why(name) is not None


def dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True)
