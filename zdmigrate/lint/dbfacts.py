"""What a live database tells the rules: table sizes, column types, proven NOT NULL.

Only used with ``--database-url``. Every query is read-only and cached per
linted set; a table that does not exist yet has no facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from zdmigrate.errors import DatabaseError
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
SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped
"""
_NOT_NULL_SQL = """
SELECT a.attnotnull FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped
"""
_CHECKS_SQL = """
SELECT pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = to_regclass(%s) AND contype = 'c' AND convalidated
"""
_FUNC_SQL = """
SELECT string_agg(DISTINCT provolatile::text, '') FROM pg_proc
WHERE proname = %(name)s
  AND (%(schema)s = '' OR pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s))
"""
# Role -> privilege on the tables of a schema other than one, from table and column
# ACLs; the owners' own entries and those of the role lint runs as are left out.
_SCHEMA_GRANTS_SQL = """
WITH acl AS (
  SELECT c.relowner, c.relacl AS acl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND c.relname <> %(table)s
  UNION ALL
  SELECT c.relowner, a.attacl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
   WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND c.relname <> %(table)s
)
SELECT DISTINCT CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END,
       g.privilege_type
  FROM acl, aclexplode(acl.acl) g
 WHERE g.grantee <> acl.relowner AND g.grantee <> current_user::regrole
"""
# What default privileges give others on a table the role lint runs as creates in a
# schema: its entries for that schema and its global ones.
_DEFAULT_GRANTS_SQL = """
SELECT DISTINCT CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END,
       g.privilege_type
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
       aclexplode(d.defaclacl) g
 WHERE d.defaclrole = current_user::regrole AND d.defaclobjtype = 'r'
   AND (d.defaclnamespace = 0 OR n.nspname = %s) AND g.grantee <> d.defaclrole
"""
_MEMBER_SQL = """
SELECT EXISTS (SELECT 1 FROM pg_roles r, pg_roles g
                WHERE r.rolname = %s AND g.rolname = %s AND pg_has_role(r.oid, g.oid, 'USAGE'))
"""
_VOLATILITY = {"v": Volatility.VOLATILE, "s": Volatility.STABLE, "i": Volatility.IMMUTABLE}


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
        self.schema_grants = cache(self._schema_grants)
        self.default_grants = cache(self._default_grants)
        self.member_of = cache(self._member_of)
        self._who: tuple[str, str] | None = None

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

    def _whoami(self) -> tuple[str, str]:
        if self._who is None:
            user, schema = self._one("SELECT current_user, current_schema()")
            self._who = (str(user), str(schema or "public"))
        return self._who

    def current_user(self) -> str:
        """The role lint connects as, taken as the role that runs the migrations."""
        return self._whoami()[0]

    def current_schema(self) -> str:
        """Where an unqualified CREATE TABLE puts the table."""
        return self._whoami()[1]

    def _roles(self, rows: list[Any]) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for role, privilege in rows:
            out.setdefault(str(role), set()).add(str(privilege))
        return {role: frozenset(p) for role, p in out.items()}

    def _schema_grants(self, schema: str, table: str) -> dict[str, frozenset[str]]:
        """Role -> its privileges on the tables of ``schema`` other than ``table``."""
        rows = self.conn.execute(_SCHEMA_GRANTS_SQL, {"schema": schema, "table": table})
        return self._roles(rows.fetchall())

    def _default_grants(self, schema: str) -> dict[str, frozenset[str]]:
        """Role -> what a table the current user creates in ``schema`` is granted."""
        return self._roles(self.conn.execute(_DEFAULT_GRANTS_SQL, (schema,)).fetchall())

    def _member_of(self, role: str, granted: str) -> bool:
        """``role`` has the privileges of ``granted`` (a member that inherits them)."""
        return bool(self._one(_MEMBER_SQL, role, granted)[0])

    def _checks(self, table: str) -> list[Any]:
        """The expressions of the validated CHECK constraints of ``table``."""
        from zdmigrate.lint._node import parse_one

        rows = self.conn.execute(_CHECKS_SQL, (table,)).fetchall()
        return [parse_one(f"ALTER TABLE t ADD {r[0]}").cmds[0].def_.raw_expr for r in rows]

    def has_not_null_check(self, table: str, column: str) -> bool:
        """A validated CHECK of ``table`` proves ``column`` NOT NULL (``column IS NOT
        NULL``, alone or AND-ed with more)."""
        from zdmigrate.lint._expr import not_null_columns

        return any(column in not_null_columns(expr) for expr in self._checks(table))

    def proves_bound(self, table: str, wanted: frozenset[str]) -> bool:
        """A validated CHECK of ``table`` holds every constant in ``wanted`` and names a
        column that is NOT NULL (or that it proves NOT NULL)."""
        from zdmigrate.lint._expr import column_names, constants, not_null_columns

        for expr in self._checks(table):
            if not wanted <= constants(expr):
                continue
            columns = column_names(expr)
            if not_null_columns(expr) & columns or any(self._not_null(table, c) for c in columns):
                return True
        return False

    def _not_null(self, table: str, column: str) -> bool:
        row = self._one(_NOT_NULL_SQL, table, column)
        return bool(row and row[0]) or self.has_not_null_check(table, column)

    def column_type(self, table: str, column: str) -> str | None:
        """The SQL type of ``table.column`` (``character varying(50)``), if it exists."""
        row = self._one(_COLUMN_SQL, table, column)
        return str(row[0]) if row is not None else None
