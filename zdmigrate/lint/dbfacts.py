"""What a live database tells the rules: table sizes, column types, proven NOT NULL.

Only used with ``--database-url``. Every query is read-only and cached per
linted set; a table that does not exist yet has no facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from zdmigrate.errors import DatabaseError
from zdmigrate.lint._node import const_value
from zdmigrate.lint.violation import Severity
from zdmigrate.lint.volatility import Volatility

__all__ = ["DbFacts", "TableFacts"]

_BIG_BYTES = 1 << 30
_PASS_BYTES_PER_S = 100 * (1 << 20)  # a conservative sequential read/write rate

_TABLE_SQL = """
WITH rels AS (
  SELECT %(t)s::regclass AS relid
  UNION SELECT p.relid FROM pg_partition_tree(%(t)s::regclass) p
)
SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint,
       coalesce(sum(pg_total_relation_size(c.oid)), 0),
       bool_or(c.relkind = 'p' AND c.oid = %(t)s::regclass),
       EXISTS (SELECT 1 FROM {rel} LIMIT 1)
FROM rels JOIN pg_class c ON c.oid = rels.relid
"""
_COLUMN_SQL = """
SELECT a.atttypid, a.atttypmod FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped
"""
_NOT_NULL_SQL = """
SELECT a.attnotnull FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped
"""
_CAST_SQL = "SELECT castmethod FROM pg_cast WHERE castsource = %s AND casttarget = %s"
_CHECKS_SQL = """
SELECT pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = to_regclass(%s) AND contype = 'c' AND convalidated
"""
_FUNC_SQL = """
SELECT string_agg(DISTINCT provolatile::text, '') FROM pg_proc
WHERE proname = %(name)s
  AND (%(schema)s = '' OR pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s))
"""
_VOLATILITY = {"v": Volatility.VOLATILE, "s": Volatility.STABLE, "i": Volatility.IMMUTABLE}
_VARLENA_TYPMOD = frozenset({"varchar", "numeric", "varbit"})


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} TB"


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under 1 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


@dataclass(frozen=True)
class TableFacts:
    """Size and kind of an existing table."""

    rows: int
    bytes: int
    partitioned: bool

    def describe(self) -> str:
        if self.rows == 0:
            return "the table is empty"
        pass_s = self.bytes / _PASS_BYTES_PER_S
        return (
            f"table: ~{self.rows:,} rows, {_size(self.bytes)}, "
            f"~{_duration(pass_s)} per full scan or rewrite"
        )

    def grade(self, severity: Severity | None) -> Severity | None:
        """Empty tables cannot be hurt; very large ones make any long lock an outage."""
        if self.rows == 0:
            return Severity.INFO
        if self.bytes >= _BIG_BYTES:
            return Severity.ERROR
        return severity


class DbFacts:
    """Cached catalog look-ups on one read-only connection."""

    def __init__(self, url: str) -> None:
        import psycopg

        try:
            self.conn: Any = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise DatabaseError(
                f"cannot connect to the database for lint: {exc}".splitlines()[0],
                "check --database-url, or lint without it (offline)",
            ) from None
        self.table = cache(self._table)
        self.function_volatility = cache(self._function_volatility)

    def close(self) -> None:
        self.conn.close()

    def _one(self, query: Any, *params: Any) -> Any:
        row = self.conn.execute(query, params).fetchone()
        return row

    def _table(self, name: str) -> TableFacts | None:
        from psycopg import sql

        if self._one("SELECT to_regclass(%s)", name)[0] is None:
            return None
        query = sql.SQL(_TABLE_SQL).format(
            rel=sql.SQL("{}").format(sql.Identifier(*name.split(".")))
        )
        tuples, size, partitioned, any_row = self.conn.execute(query, {"t": name}).fetchone()
        rows = 0 if not any_row else max(int(tuples), 1)
        return TableFacts(rows, int(size), bool(partitioned))

    def _function_volatility(self, name: str, schema: str = "") -> Volatility:
        """The worst volatility of the functions ``name`` (in ``schema`` if given);
        UNKNOWN when there is none."""
        row = self.conn.execute(_FUNC_SQL, {"name": name, "schema": schema}).fetchone()
        codes = row[0] or ""
        for code in "vsi":
            if code in codes:
                return _VOLATILITY[code]
        return Volatility.UNKNOWN

    def has_not_null_check(self, table: str, column: str) -> bool:
        """A validated ``CHECK (column IS NOT NULL)`` exists on ``table``."""
        pattern = re.compile(rf'^CHECK \(+"?{re.escape(column)}"? IS NOT NULL\)+$')
        rows = self.conn.execute(_CHECKS_SQL, (table,)).fetchall()
        return any(pattern.match(r[0]) for r in rows)

    def proves_bound(self, table: str, wanted: frozenset[str]) -> bool:
        """A validated CHECK of ``table`` holds every constant in ``wanted`` and names a
        column that is NOT NULL (or that it proves NOT NULL)."""
        from zdmigrate.lint._expr import column_names, constants, not_null_columns
        from zdmigrate.lint._node import parse_one

        for (definition,) in self.conn.execute(_CHECKS_SQL, (table,)).fetchall():
            expr = parse_one(f"ALTER TABLE t ADD {definition}").cmds[0].def_.raw_expr
            if not wanted <= constants(expr):
                continue
            columns = column_names(expr)
            if not_null_columns(expr) & columns or any(self._not_null(table, c) for c in columns):
                return True
        return False

    def _not_null(self, table: str, column: str) -> bool:
        row = self._one(_NOT_NULL_SQL, table, column)
        return bool(row and row[0]) or self.has_not_null_check(table, column)

    def binary_coercible(self, table: str, column: str, new_type: Any) -> bool:
        """Changing ``table.column`` to ``new_type`` (a TypeName) needs no rewrite."""
        current = self._one(_COLUMN_SQL, table, column)
        target = self._type_of(new_type)
        if current is None or target is None:
            return False
        (old_oid, old_mod), (new_oid, new_mod, new_name) = current, target
        if old_oid == new_oid:
            return new_name in _VARLENA_TYPMOD and _wider(new_name, old_mod, new_mod)
        method = self._one(_CAST_SQL, old_oid, new_oid)
        return method is not None and method[0] == "b" and new_mod == -1

    def _type_of(self, type_name: Any) -> tuple[int, int, str] | None:
        import psycopg

        text = ".".join(str(n.sval) for n in type_name.names or ())
        if type_name.arrayBounds:
            text += "[]"
        try:
            row = self._one(
                "SELECT t.oid, t.typname FROM pg_type t WHERE t.oid = %s::regtype", text
            )
        except psycopg.Error:
            return None
        if row is None:
            return None
        return int(row[0]), _typmod(str(row[1]), type_name), str(row[1])


def _typmod(name: str, type_name: Any) -> int:
    mods = [const_value(m) for m in type_name.typmods or ()]
    ints = [m for m in mods if isinstance(m, int) and not isinstance(m, bool)]
    if not ints or len(ints) != len(mods):
        return -1
    if name == "numeric":
        scale = ints[1] if len(ints) > 1 else 0
        return ((ints[0] << 16) | scale) + 4
    return ints[0] + (4 if name == "varchar" else 0)


def _wider(name: str, old: int, new: int) -> bool:
    if new == -1:
        return True
    if old == -1:
        return False
    if name == "numeric":
        return (new & 0xFFFF) == (old & 0xFFFF) and (new >> 16) >= (old >> 16)
    return new >= old
