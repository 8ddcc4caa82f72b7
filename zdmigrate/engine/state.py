"""The ``zdmigrate`` state schema: what zdmigrate knows lives in the database.

``init`` creates or upgrades it. Upgrades are numbered; the schema records
its own version in ``zdmigrate.meta`` so a later release upgrades in place.
A transaction-level advisory lock makes concurrent ``init`` runs safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

__all__ = [
    "STATE_SCHEMA",
    "STATE_VERSION",
    "InitResult",
    "init_state",
    "list_migrations",
    "state_version",
]

STATE_SCHEMA = "zdmigrate"
# Any 64-bit constant unique to zdmigrate: "zdm" init lock.
INIT_LOCK_KEY = 0x7A646D_0001

_UPGRADES: tuple[str, ...] = (
    # 1: the first state schema.
    """
    CREATE TABLE zdmigrate.migrations (
        name            text PRIMARY KEY,
        sha256          text NOT NULL,
        phase           text NOT NULL,
        mode            text NOT NULL DEFAULT 'version',
        schema_name     text NOT NULL DEFAULT 'public',
        version_schema  text,
        tables          text[] NOT NULL DEFAULT '{}',
        spec            jsonb NOT NULL DEFAULT '{}',
        applied_by      text NOT NULL DEFAULT current_user,
        started_at      timestamptz NOT NULL DEFAULT now(),
        expanded_at     timestamptz,
        backfilled_at   timestamptz,
        completed_at    timestamptz,
        rolled_back_at  timestamptz,
        version_schema_dropped boolean NOT NULL DEFAULT false,
        paused          boolean NOT NULL DEFAULT false,
        source          text NOT NULL DEFAULT '',
        catalog         jsonb,
        error           text,
        updated_at      timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE zdmigrate.steps_done (
        migration   text NOT NULL,
        step        text NOT NULL,
        done_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (migration, step)
    );
    CREATE TABLE zdmigrate.audit_log (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at          timestamptz NOT NULL DEFAULT clock_timestamp(),
        migration   text,
        command     text NOT NULL,
        step        text NOT NULL,
        phase       text,
        sql         text,
        status      text NOT NULL,
        duration_ms double precision,
        attempts    integer,
        detail      jsonb,
        actor       text NOT NULL DEFAULT session_user
    );
    CREATE INDEX audit_log_migration ON zdmigrate.audit_log (migration, id);
    CREATE TABLE zdmigrate.backfill_checkpoints (
        migration   text NOT NULL,
        table_name  text NOT NULL,
        last_key    jsonb,
        upper_key   jsonb,
        rows_done   bigint NOT NULL DEFAULT 0,
        rows_total  bigint,
        batch_size  integer,
        rows_per_s  double precision,
        status      text NOT NULL DEFAULT 'pending',
        started_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (migration, table_name)
    );
    CREATE TABLE zdmigrate.gate_baselines (
        migration   text NOT NULL,
        source      text NOT NULL,
        taken_at    timestamptz NOT NULL DEFAULT now(),
        data        jsonb NOT NULL,
        PRIMARY KEY (migration, source)
    );
    CREATE TABLE zdmigrate.gate_decisions (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        migration   text NOT NULL,
        at          timestamptz NOT NULL DEFAULT now(),
        decision    text NOT NULL,
        forced      boolean NOT NULL DEFAULT false,
        report      jsonb NOT NULL
    );
    """,
    # 2: the plan as apply rendered it, run by complete and rollback.
    """
    ALTER TABLE zdmigrate.migrations ADD COLUMN plan jsonb, ADD COLUMN planned_by text;
    """,
    # 3: the gate's counter snapshots, one per run and source.
    """
    CREATE TABLE zdmigrate.gate_snapshots (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        migration   text NOT NULL,
        source      text NOT NULL,
        taken_at    timestamptz NOT NULL DEFAULT now(),
        data        jsonb NOT NULL
    );
    CREATE INDEX gate_snapshots_migration ON zdmigrate.gate_snapshots (migration, source, taken_at);
    """,
    # 4: a checkpoint per partition, walked by blocks or by key; the throttle's state;
    # why a backfill stopped by itself (critical load).
    """
    ALTER TABLE zdmigrate.backfill_checkpoints
        ADD COLUMN part text NOT NULL DEFAULT '',
        ADD COLUMN walk text NOT NULL DEFAULT 'keys',
        ADD COLUMN relfilenode bigint,
        ADD COLUMN throttle text NOT NULL DEFAULT '',
        DROP CONSTRAINT backfill_checkpoints_pkey,
        ADD PRIMARY KEY (migration, table_name, part);
    ALTER TABLE zdmigrate.migrations ADD COLUMN paused_why text NOT NULL DEFAULT '';
    """,
    # 5: a migration may change tables of several schemas: its tables and version
    # schema per schema (the migrations row keeps the first schema's).
    """
    CREATE TABLE zdmigrate.migration_schemas (
        migration       text NOT NULL REFERENCES zdmigrate.migrations (name)
                        ON DELETE CASCADE,
        schema_name     text NOT NULL,
        version_schema  text,
        tables          text[] NOT NULL DEFAULT '{}',
        version_schema_dropped boolean NOT NULL DEFAULT false,
        position        integer NOT NULL DEFAULT 0,
        PRIMARY KEY (migration, schema_name)
    );
    INSERT INTO zdmigrate.migration_schemas
        (migration, schema_name, version_schema, tables, version_schema_dropped)
    SELECT name, schema_name, version_schema, tables, version_schema_dropped
      FROM zdmigrate.migrations;
    """,
)

STATE_VERSION = len(_UPGRADES)

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class InitResult:
    before: int
    after: int

    @property
    def changed(self) -> bool:
        return self.before != self.after


def state_version(conn: Conn) -> int:
    """The installed state schema version; 0 when there is none."""
    row = conn.execute("SELECT to_regclass('zdmigrate.meta') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    got = conn.execute("SELECT value FROM zdmigrate.meta WHERE key = 'state_version'").fetchone()
    return int(got[0]) if got else 0


def init_state(conn: Conn) -> InitResult:
    """Create or upgrade the state schema; idempotent and safe to run concurrently."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (INIT_LOCK_KEY,))
        # CREATE SCHEMA IF NOT EXISTS wants CREATE on the database even when the schema
        # exists: only a first run needs it (complete, rollback, verify do not)
        exists = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (STATE_SCHEMA,))
        if not _first(exists.fetchone()):
            _create_state_schema(conn)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS zdmigrate.meta (key text PRIMARY KEY, value text NOT NULL)"
        )
        before = state_version(conn)
        if before > STATE_VERSION:
            from zdmigrate.errors import StateError

            raise StateError(
                f"the state schema is at version {before}, newer than this zdmigrate "
                f"understands ({STATE_VERSION})",
                "upgrade zdmigrate",
            )
        for number in range(before + 1, STATE_VERSION + 1):
            conn.execute(_UPGRADES[number - 1])
        conn.execute(
            "INSERT INTO zdmigrate.meta (key, value) VALUES ('state_version', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (str(STATE_VERSION),),
        )
    return InitResult(before=before, after=STATE_VERSION)


def _first(row: tuple[Any, ...] | None) -> Any:
    return row[0] if row else None


def _create_state_schema(conn: Conn) -> None:
    database, role = conn.info.dbname, conn.info.user  # read without a query
    try:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(STATE_SCHEMA)))
    except psycopg.errors.InsufficientPrivilege as exc:
        from zdmigrate.errors import DatabaseError

        raise DatabaseError(
            f"cannot create zdmigrate's state schema ({STATE_SCHEMA}): "
            f"{str(exc).strip().splitlines()[0]}",
            f"GRANT CREATE ON DATABASE {sql.Identifier(database).as_string(conn)} TO "
            f"{sql.Identifier(role).as_string(conn)} (it creates schema {STATE_SCHEMA} once "
            "and a version schema per migration: docs/connecting.md, 'Least privileges')",
        ) from None


def list_migrations(conn: Conn) -> list[dict[str, Any]]:
    """Every migration zdmigrate knows of, oldest first; empty without a state schema.
    ``running``: a zdmigrate process holds the migration's advisory lock now."""
    if state_version(conn) == 0:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT m.name, m.phase, m.mode, m.schema_name, m.version_schema, m.tables,
                   m.started_at, m.expanded_at, m.completed_at, m.rolled_back_at, m.paused,
                   m.paused_why,
                   ARRAY(SELECT s.schema_name FROM zdmigrate.migration_schemas s
                          WHERE s.migration = m.name ORDER BY s.position) AS schemas,
                   ARRAY(SELECT s.version_schema FROM zdmigrate.migration_schemas s
                          WHERE s.migration = m.name AND s.version_schema IS NOT NULL
                            AND NOT s.version_schema_dropped ORDER BY s.position)
                     AS version_schemas,
                   COALESCE(sum(b.rows_done), 0)::bigint AS rows_done,
                   sum(b.rows_total)::bigint AS rows_total,
                   sum(b.rows_per_s) FILTER (WHERE b.status = 'running') AS rows_per_s,
                   max(b.throttle) FILTER (WHERE b.status = 'running') AS throttle,
                   (SELECT d.decision || CASE WHEN d.forced THEN ' (forced)' ELSE '' END
                      FROM zdmigrate.gate_decisions d WHERE d.migration = m.name
                     ORDER BY d.id DESC LIMIT 1) AS gate,
                   EXISTS (SELECT 1 FROM pg_locks l
                            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                              AND l.database = (SELECT oid FROM pg_database
                                                 WHERE datname = current_database())
                              AND ((l.classid::bigint << 32) | l.objid::bigint)
                                  = hashtextextended('zdmigrate:' || m.name, 0)) AS running
              FROM zdmigrate.migrations m
              LEFT JOIN zdmigrate.backfill_checkpoints b ON b.migration = m.name
             GROUP BY m.name
             ORDER BY m.started_at, m.name
            """
        )
        return list(cur.fetchall())
