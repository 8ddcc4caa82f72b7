"""Backfill work as data: which rows, which key, which assignments; SQL, no I/O.

The backfill walks each leaf of the table on its own: the table itself, or
every partition of a partitioned table (listed again when the walk ends, so a
partition attached meanwhile is filled too). Within a leaf it walks the heap
by block range (a TID Range Scan, like the single UPDATE it replaces) or, with
``backfill_walk = "keys"``, the key in order (keyset pagination). Each batch
touches only rows still marked as needing a backfill, so a row an application
wrote after the triggers existed keeps the value it was given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from psycopg import sql

from zdmigrate.model.schema import MARKER

__all__ = [
    "ACTIVE_SQL",
    "CHECKPOINT_INSERT_SQL",
    "CHECKPOINT_UPDATE_SQL",
    "LEAF_SQL",
    "LEAVES_SQL",
    "PROBE_SQL",
    "REPLICA_LAG_SQL",
    "SESSION_SQL",
    "BackfillSpec",
    "VerifyPair",
    "VerifySpec",
    "Walk",
]

BACKFILL_SETTING = "zdmigrate.backfill"
Walk = Literal["blocks", "keys"]
# Where a partitioned table's statements name the partition they run on.
PARTITION = "<partition>"

# The backfill's own session: the dual-write triggers skip its batches (today's by their
# WHEN clause on the marker; those of an earlier release read zdmigrate.backfill), and a batch does not wait for its WAL to reach disk (a crash
# loses the batch with its checkpoint, so the resumed backfill redoes exactly those).
SESSION_SQL = (
    f"SELECT set_config('{BACKFILL_SETTING}', 'on', false), set_config('lock_timeout', %s, false), "
    "set_config('synchronous_commit', 'off', false)"
)
# The leaves to walk: the table itself, or each partition (parameter: the table, twice).
LEAVES_SQL = (
    "SELECT n.nspname, c.relname, c.relkind::text, COALESCE(a.amname, '') FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_am a ON a.oid = c.relam "
    "WHERE c.oid IN (SELECT p.relid FROM pg_partition_tree(%s::regclass) p WHERE p.isleaf) "
    "OR (c.oid = %s::regclass AND c.relkind <> 'p') ORDER BY n.nspname, c.relname"
)
# A leaf's file, its size in blocks and the planner's row estimate (parameter: the leaf).
LEAF_SQL = (
    "SELECT c.relfilenode::bigint, pg_relation_size(c.oid) / current_setting('block_size')::bigint, "
    "GREATEST(c.reltuples, 0)::bigint FROM pg_class c WHERE c.oid = %s::regclass"
)
# The throttle's probe, on a session of its own: a commit like the application's, which
# waits for the WAL before it (the backfill's too) to reach disk. It writes no row.
PROBE_SQL = "SELECT pg_current_xact_id()"
# Other sessions of this database at work now, those whose state this role cannot see
# (another role's, without pg_read_all_stats), and those waiting for a lock (a row the
# backfill's batch holds, most often), and the next transaction id: how many writing
# transactions the server has begun (parameter: zdmigrate's own session ids).
ACTIVE_SQL = (
    "SELECT count(*) FILTER (WHERE state IN ('active', 'idle in transaction')), "
    "count(*) FILTER (WHERE state IS NULL), count(*) FILTER (WHERE wait_event_type = 'Lock'), "
    "(SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint) "
    "FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_type = 'client backend' AND pid <> ALL(%s)"
)
# Between batches, on zdmigrate's own connection: how far the replicas are behind.
REPLICA_LAG_SQL = (
    "SELECT max(EXTRACT(epoch FROM GREATEST(write_lag, flush_lag, replay_lag))), "
    "min(replay_lsn - '0/0'::pg_lsn) FROM pg_stat_replication"
)
CHECKPOINT_INSERT_SQL = (
    "INSERT INTO zdmigrate.backfill_checkpoints (migration, table_name, part, walk, "
    "relfilenode, upper_key, rows_total, status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (migration, table_name, part) DO UPDATE SET walk = EXCLUDED.walk, "
    "relfilenode = EXCLUDED.relfilenode, last_key = NULL, upper_key = EXCLUDED.upper_key, "
    "rows_total = EXCLUDED.rows_total, status = EXCLUDED.status, updated_at = now()"
)
# In the batch's transaction: the batch and its checkpoint commit together. It returns
# where the batch ended in the WAL, the leaf's file now (a VACUUM FULL or CLUSTER moved
# its rows: walk it again) and whether the leaf still belongs to the table.
CHECKPOINT_UPDATE_SQL = (
    "UPDATE zdmigrate.backfill_checkpoints SET last_key = %s, rows_done = %s, "
    "batch_size = %s, rows_per_s = %s, status = %s, throttle = %s, updated_at = now() "
    "WHERE migration = %s AND table_name = %s AND part = %s "
    "RETURNING pg_current_wal_insert_lsn() - '0/0'::pg_lsn, "
    "(SELECT c.relfilenode::bigint FROM pg_class c WHERE c.oid = %s::regclass), "
    "(%s::regclass = %s::regclass OR EXISTS (SELECT FROM pg_partition_ancestors(%s::regclass) a "
    "WHERE a.relid = %s::regclass))"
)


def _id(*parts: str) -> sql.SQL:
    """A quoted identifier inside a query run with parameters: a ``%`` in a name must
    not be read as a placeholder either. Every query here runs with parameters."""
    return sql.SQL(sql.Identifier(*parts).as_string().replace("%", "%%"))


def _expr(text: str) -> sql.SQL:
    """A migration expression inside a query run with parameters: ``%`` (modulo,
    LIKE patterns) must not be read as a placeholder."""
    return sql.SQL(text.replace("%", "%%"))


def regclass_text(schema: str, name: str) -> str:
    """The text a ``%s::regclass`` parameter takes for a table."""
    return sql.Identifier(schema, name).as_string()


@dataclass(frozen=True)
class BackfillSpec:
    schema: str
    table: str
    key: tuple[str, ...]
    key_types: tuple[str, ...]
    assignments: tuple[tuple[str, str, str], ...]
    # a plan stored by a zdmigrate before 0.6 walked the key and knew no partitions
    walk: Walk = "keys"
    partitioned: bool = False
    # the checkpoints' name of the table: ``schema.table`` in a migration that spans
    # schemas (two may hold a table of one name); empty: the table's name
    checkpoint: str = ""
    # a block walk runs batches on up to this many sessions at once while no other session
    # is at work (a plan stored by an earlier zdmigrate ran on one)
    sessions: int = 1

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.checkpoint:
            del out["checkpoint"]
        return out

    @property
    def checkpoint_name(self) -> str:
        return self.checkpoint or self.table

    @property
    def qualified(self) -> sql.Composable:
        return _id(self.schema, self.table)

    @property
    def regclass(self) -> str:
        return regclass_text(self.schema, self.table)

    def _rel(self, leaf: tuple[str, str] | None) -> sql.Composable:
        """The relation a statement runs on: a leaf, else the table (or, for a partitioned
        table, the placeholder ``plan`` shows for each partition)."""
        if leaf is not None:
            return _id(*leaf)
        return _id(PARTITION) if self.partitioned else self.qualified

    def _key_row(self, prefix: str | None = None) -> sql.Composable:
        ids = [_id(prefix, k) if prefix else _id(k) for k in self.key]
        return sql.SQL("({})").format(sql.SQL(", ").join(ids))

    def _params_row(self) -> sql.Composable:
        casts = [sql.SQL("CAST(%s AS {})").format(sql.SQL(t)) for t in self.key_types]
        return sql.SQL("({})").format(sql.SQL(", ").join(casts))

    def _key_text(self, prefix: str) -> sql.Composable:
        return sql.SQL(", ").join(sql.SQL("{}::text").format(_id(prefix, k)) for k in self.key)

    def _sets(self) -> sql.Composable:
        sets = [
            sql.SQL("{} = ({})").format(_id(target), _expr(expr))
            for target, expr, _ in self.assignments
        ]
        return sql.SQL(", ").join([*sets, sql.SQL("{} = false").format(_id(MARKER))])

    def describe(self) -> dict[str, Any]:
        """What ``plan`` shows: the table, how it is walked, the columns, and every
        statement with the meaning of its parameters, in the order the backfill sends them."""
        return {
            "table": self.table,
            "key": list(self.key),
            "walk": self.walk,
            "sessions": self.sessions,
            "partitioned": self.partitioned,
            "columns": [a[0] for a in self.assignments],
            "statements": [
                {"when": when, "sql": text, "parameters": list(params)}
                for when, text, params in self.statements()
            ],
        }

    def statements(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(when, SQL, parameter meanings) of every statement the backfill sends."""
        leaf = "each partition" if self.partitioned else "the table"
        checkpoint = ("last key", "rows done", "batch size", "rows/s", "status", "throttle")
        where = ("migration", "table", "partition", "leaf", "leaf", "table", "leaf", "table")
        own = "on each session it runs batches on" if self.sessions > 1 else "on its own session"
        head = [
            (f"once, {own}", SESSION_SQL, ("lock_timeout",)),
            ("once, and again when done: what to walk", LEAVES_SQL, ("table", "table")),
            (f"{leaf}: its file, blocks and row estimate", LEAF_SQL, ("leaf",)),
            (f"{leaf}, if never analyzed: its rows, for progress", self.total_sql(), ()),
        ]
        start = (
            f"{leaf}: the checkpoint",
            CHECKPOINT_INSERT_SQL,
            ("migration", "table", "partition", "walk", "file", "upper", "rows", "status"),
        )
        tail = [
            ("each batch, same transaction", CHECKPOINT_UPDATE_SQL, (*checkpoint, *where)),
            ("between batches, on zdmigrate's own session: replica lag", REPLICA_LAG_SQL, ()),
            ("throttle, on its own session: a commit", PROBE_SQL, ()),
            ("throttle, on its own session: others at work", ACTIVE_SQL, ("zdmigrate's pids",)),
        ]
        if self.walk == "blocks":
            blocks = ("from block", "to block (not included)")
            return [
                *head,
                start,
                (
                    "each batch: fill a range of blocks"
                    + (
                        " (with sessions to spare, the next ranges at once, each on its own, "
                        "committed in order)"
                        if self.sessions > 1
                        else ""
                    ),
                    self.update_blocks_sql(),
                    blocks,
                ),
                *tail,
                ("a failed batch: its rows", self.block_keys_sql(), (*blocks, "limit")),
                ("a failed batch: each row", self.row_check_sql(), tuple(self.key)),
            ]
        after = tuple(f"after {k}: key of the last row done" for k in self.key)
        upto = tuple(f"upto {k}: key of the batch's end" for k in self.key)
        last = tuple(f"upper {k}: the last key when the walk started" for k in self.key)
        return [
            *head[:2],
            (f"{leaf}: the range to fill", self.upper_bound_sql(), ()),
            *head[2:],
            start,
            (
                "each batch: its end (first batch)",
                self.batch_end_sql(True),
                (*last, "batch size - 1"),
            ),
            ("each batch: its end", self.batch_end_sql(False), (*after, *last, "batch size - 1")),
            ("last batch: its size", self.count_sql(False), (*after, *last)),
            ("each batch: fill (first batch)", self.update_sql(True), upto),
            ("each batch: fill", self.update_sql(False), (*after, *upto)),
            *tail,
            ("a failed batch: its keys", self.batch_keys_sql(False), (*after, *last, "limit")),
            ("a failed batch: each row", self.row_check_sql(), tuple(self.key)),
        ]

    def total_sql(self, leaf: tuple[str, str] | None = None) -> str:
        return sql.SQL("SELECT count(*) FROM ONLY {}").format(self._rel(leaf)).as_string()

    # -- the block walk

    def update_blocks_sql(self, leaf: tuple[str, str] | None = None) -> str:
        """Fill every row of a block range that still needs it: one TID Range Scan."""
        return (
            sql.SQL(
                "UPDATE ONLY {} AS t SET {} WHERE t.ctid >= CAST(%s AS tid) "
                "AND t.ctid < CAST(%s AS tid) AND t.{}"
            )
            .format(self._rel(leaf), self._sets(), _id(MARKER))
            .as_string()
        )

    def block_keys_sql(self, leaf: tuple[str, str] | None = None) -> str:
        """The keys of the rows a block range still has to fill (to find a failing row)."""
        return (
            sql.SQL(
                "SELECT {} FROM ONLY {} AS t WHERE t.ctid >= CAST(%s AS tid) "
                "AND t.ctid < CAST(%s AS tid) AND t.{} ORDER BY {} LIMIT %s"
            )
            .format(self._key_text("t"), self._rel(leaf), _id(MARKER), self._order())
            .as_string()
        )

    # -- the key walk

    def upper_bound_sql(self, leaf: tuple[str, str] | None = None) -> str:
        """The last key now: the walk ends there; later rows are the triggers' job."""
        desc = sql.SQL(", ").join(sql.SQL("{} DESC").format(_id("t", k)) for k in self.key)
        return (
            sql.SQL("SELECT {} FROM ONLY {} AS t ORDER BY {} LIMIT 1")
            .format(self._key_text("t"), self._rel(leaf), desc)
            .as_string()
        )

    def _range(self, first: bool) -> sql.Composable:
        """Rows after the lower key (params, unless first) up to the upper key (params)."""
        lower = (
            sql.SQL("")
            if first
            else sql.SQL("{} > {} AND ").format(self._key_row("t"), self._params_row())
        )
        return sql.SQL("{}{} <= {}").format(lower, self._key_row("t"), self._params_row())

    def _order(self) -> sql.Composable:
        return sql.SQL(", ").join(_id("t", k) for k in self.key)

    def batch_end_sql(self, first: bool, leaf: tuple[str, str] | None = None) -> str:
        """The key that ends a batch of N rows: params are the range, then N - 1.

        No row means the rest of the range is smaller than a batch.
        """
        return (
            sql.SQL("SELECT {} FROM ONLY {} AS t WHERE {} ORDER BY {} OFFSET %s LIMIT 1")
            .format(self._key_text("t"), self._rel(leaf), self._range(first), self._order())
            .as_string()
        )

    def update_sql(self, first: bool, leaf: tuple[str, str] | None = None) -> str:
        """Fill every row of the range that still needs it: one index range scan."""
        return (
            sql.SQL("UPDATE ONLY {} AS t SET {} WHERE {} AND t.{}")
            .format(self._rel(leaf), self._sets(), self._range(first), _id(MARKER))
            .as_string()
        )

    def count_sql(self, first: bool, leaf: tuple[str, str] | None = None) -> str:
        """How many rows the range holds (for the last, short batch)."""
        return (
            sql.SQL("SELECT count(*) FROM ONLY {} AS t WHERE {}")
            .format(self._rel(leaf), self._range(first))
            .as_string()
        )

    def batch_keys_sql(self, first: bool, leaf: tuple[str, str] | None = None) -> str:
        """The keys of a range in order (to find a failing row); params: range, limit."""
        return (
            sql.SQL("SELECT {} FROM ONLY {} AS t WHERE {} ORDER BY {} LIMIT %s")
            .format(self._key_text("t"), self._rel(leaf), self._range(first), self._order())
            .as_string()
        )

    def row_check_sql(self, leaf: tuple[str, str] | None = None) -> str:
        """Evaluate every assignment for one row by key (params: key as text)."""
        exprs = sql.SQL(", ").join(
            sql.SQL("CAST(({}) AS {})").format(_expr(e), sql.SQL(t)) for _, e, t in self.assignments
        )
        return (
            sql.SQL("SELECT {} FROM ONLY {} AS t WHERE {} = {}")
            .format(exprs, self._rel(leaf), self._key_row("t"), self._params_row())
            .as_string()
        )


@dataclass(frozen=True)
class VerifyPair:
    """A shadow column and the column it replaces: consistent if new = up(old) or
    old = down(new) (a row the new version wrote keeps its own value)."""

    new: str
    up: str
    new_type: str
    old: str
    down: str
    old_type: str


@dataclass(frozen=True)
class VerifySpec:
    schema: str
    table: str
    key: tuple[str, ...]
    key_types: tuple[str, ...]
    pairs: tuple[VerifyPair, ...]
    new_row: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> dict[str, Any]:
        """What ``plan`` shows: the statements ``verify`` sends, chunk by chunk."""
        after = [f"after {k}: key of the last row checked" for k in self.key]
        return {
            "table": self.table,
            "statements": [
                {
                    "when": "first chunk",
                    "sql": self.chunk_sql(True),
                    "parameters": ["chunk rows", "keys listed"],
                },
                {
                    "when": "each next chunk",
                    "sql": self.chunk_sql(False),
                    "parameters": [*after, "chunk rows", "keys listed"],
                },
            ],
        }

    def _mismatch(self) -> sql.Composable:
        new_row = sql.SQL(", ").join(
            sql.SQL("c.{} AS {}").format(_id(src), _id(name)) for name, src in self.new_row
        )
        parts: list[sql.Composable] = [sql.SQL("c.{}").format(_id(MARKER))]
        for p in self.pairs:
            parts.append(
                sql.SQL(
                    "(c.{new} IS DISTINCT FROM CAST(({up}) AS {nt}) AND c.{old} IS DISTINCT FROM "
                    "(SELECT CAST(({down}) AS {ot}) FROM (SELECT {row}) AS n))"
                ).format(
                    new=_id(p.new),
                    up=_expr(p.up),
                    nt=sql.SQL(p.new_type),
                    old=_id(p.old),
                    down=_expr(p.down),
                    ot=sql.SQL(p.old_type),
                    row=new_row,
                )
            )
        return sql.SQL(" OR ").join(parts)

    def chunk_sql(self, first: bool) -> str:
        """One chunk: params are (lower key if not first, chunk size, report limit).

        Returns (last key, rows in chunk, mismatching keys up to the limit, mismatches).
        """
        keys = [_id(k) for k in self.key]
        key_row = sql.SQL("({})").format(sql.SQL(", ").join(keys))
        casts = sql.SQL(", ").join(
            sql.SQL("CAST(%s AS {})").format(sql.SQL(t)) for t in self.key_types
        )
        lower = sql.SQL("") if first else sql.SQL("WHERE {} > ({}) ").format(key_row, casts)
        key_text = sql.SQL(", ").join(sql.SQL("c.{}::text").format(k) for k in keys)
        order = sql.SQL(", ").join(sql.SQL("c.{}").format(k) for k in keys)
        desc = sql.SQL(", ").join(sql.SQL("c.{} DESC").format(k) for k in keys)
        return (
            sql.SQL(
                "WITH c AS MATERIALIZED (SELECT * FROM {table} {lower}ORDER BY {key} LIMIT %s) "
                "SELECT (SELECT ARRAY[{kt}] FROM c ORDER BY {desc} LIMIT 1), "
                "(SELECT count(*) FROM c), "
                "ARRAY(SELECT ARRAY[{kt}] FROM c WHERE {bad} ORDER BY {order} LIMIT %s), "
                "(SELECT count(*) FROM c WHERE {bad})"
            )
            .format(
                table=_id(self.schema, self.table),
                lower=lower,
                key=sql.SQL(", ").join(keys),
                kt=key_text,
                desc=desc,
                bad=self._mismatch(),
                order=order,
            )
            .as_string()
        )
