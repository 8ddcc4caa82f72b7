"""Catalog snapshots for tests: compare a schema's shape across databases.

``snapshot(conn, schema)`` reads the catalog of one schema into a plain,
JSON-serialisable dict; ``diff(a, b)`` lists what differs, one readable line
per difference, so a test can write::

    assert diff(snapshot(migrated), snapshot(direct)) == []

and a failure prints what differs, e.g.
``table users: column age: type integer != bigint``.

What a snapshot holds:

- ``tables``: ordinary and partitioned tables of the schema (the state tables
  of the tool's own ``zdmigrate`` schema are left out), each with
  ``kind``, ``columns`` (by name; attnum order and dropped columns are
  ignored), ``constraints`` and ``indexes`` (by name, or by definition with
  ``ignore_constraint_names=True``) and non-internal ``triggers`` (by name);
- ``views``: view name -> ``pg_get_viewdef``;
- ``functions``: sorted ``name(identity args)`` of the schema's functions;
- ``schemas``: sorted names of all non-system schemas of the database.

Definitions come from the server (``pg_get_indexdef`` and friends) and keep
their schema-qualified names as is, so compare snapshots taken on the same
server version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from zdmigrate.engine.state import STATE_SCHEMA

__all__ = ["Snapshot", "diff", "snapshot"]

Snapshot = dict[str, Any]

_CONTYPES = {
    "c": "check",
    "f": "foreign key",
    "n": "not null",
    "p": "primary key",
    "u": "unique",
    "t": "trigger",
    "x": "exclusion",
}
_IDENTITY = {"a": "always", "d": "by default"}
_GENERATED = {"s": "stored", "v": "virtual"}
_RELKINDS = {"r": "table", "p": "partitioned table"}

# Singular labels for the sections of a snapshot, used in diff lines.
_LABELS = {
    "tables": "table",
    "columns": "column",
    "constraints": "constraint",
    "indexes": "index",
    "triggers": "trigger",
    "views": "view",
    "functions": "function",
    "schemas": "schema",
}

_TABLES = """
SELECT c.oid, c.relname, c.relkind::text
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND n.nspname <> %(state)s
ORDER BY c.relname
"""

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %(oid)s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attname
"""

_CONSTRAINTS = """
SELECT conname, contype::text, pg_get_constraintdef(oid), convalidated
FROM pg_constraint
WHERE conrelid = %(oid)s
ORDER BY pg_get_constraintdef(oid), convalidated, conname
"""

_INDEXES = """
SELECT ic.relname, quote_ident(ic.relname), pg_get_indexdef(i.indexrelid),
       i.indisvalid, i.indisunique, i.indisprimary
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = %(oid)s
ORDER BY pg_get_indexdef(i.indexrelid), i.indisvalid, ic.relname
"""

_TRIGGERS = """
SELECT tgname, pg_get_triggerdef(oid)
FROM pg_trigger
WHERE tgrelid = %(oid)s AND NOT tgisinternal
ORDER BY tgname
"""

_VIEWS = """
SELECT c.relname, pg_get_viewdef(c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind = 'v'
ORDER BY c.relname
"""

_FUNCTIONS = """
SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s
ORDER BY signature
"""

_SCHEMAS = """
SELECT nspname
FROM pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema')
  AND nspname NOT LIKE 'pg\\_toast%%'
  AND nspname NOT LIKE 'pg\\_temp%%'
ORDER BY nspname
"""


def snapshot(
    conn: psycopg.Connection[Any],
    schema: str = "public",
    ignore_constraint_names: bool = False,
) -> Snapshot:
    """The catalog of ``schema`` as a deterministic, JSON-serialisable dict.

    With ``ignore_constraint_names``, constraints and indexes are keyed by
    their definition (the name stripped) instead of by name; identical
    definitions get ``#2``, ``#3``... suffixes.
    """
    tables: dict[str, Any] = {}
    for oid, relname, relkind in _rows(conn, _TABLES, schema=schema, state=STATE_SCHEMA):
        tables[relname] = {
            "kind": _RELKINDS.get(relkind, relkind),
            "columns": _columns(conn, oid),
            "constraints": _constraints(conn, oid, ignore_constraint_names),
            "indexes": _indexes(conn, oid, ignore_constraint_names),
            "triggers": _sorted({name: tdef for name, tdef in _rows(conn, _TRIGGERS, oid=oid)}),
        }
    # Sorted in Python, not by the database's collation, so output is stable.
    return {
        "tables": _sorted(tables),
        "views": _sorted({name: vdef for name, vdef in _rows(conn, _VIEWS, schema=schema)}),
        "functions": sorted(sig for (sig,) in _rows(conn, _FUNCTIONS, schema=schema)),
        "schemas": sorted(name for (name,) in _rows(conn, _SCHEMAS)),
    }


def diff(a: Snapshot, b: Snapshot) -> list[str]:
    """Readable differences between two snapshots; ``[]`` when they are equal."""
    out: list[str] = []
    _diff_value([], a, b, out)
    return out


def _rows(conn: psycopg.Connection[Any], query: str, **params: Any) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def _columns(conn: psycopg.Connection[Any], oid: int) -> dict[str, Any]:
    return _sorted(
        {
            name: {
                "type": type_,
                "not_null": bool(notnull),
                "default": default,
                "identity": _IDENTITY.get(identity),
                "generated": _GENERATED.get(generated),
            }
            for name, type_, notnull, default, identity, generated in _rows(conn, _COLUMNS, oid=oid)
        }
    )


def _constraints(conn: psycopg.Connection[Any], oid: int, by_definition: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, contype, cdef, validated in _rows(conn, _CONSTRAINTS, oid=oid):
        cdef = cdef.removesuffix(" NOT VALID")  # that is what "validated" says
        entry = {
            "type": _CONTYPES.get(contype, contype),
            "definition": cdef,
            "validated": bool(validated),
        }
        out[_unique_key(out, cdef) if by_definition else name] = entry
    return _sorted(out)


def _indexes(conn: psycopg.Connection[Any], oid: int, by_definition: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, quoted, idef, valid, unique, primary in _rows(conn, _INDEXES, oid=oid):
        if by_definition:
            idef = _strip_index_name(idef, quoted)
        entry = {
            "definition": idef,
            "valid": bool(valid),
            "unique": bool(unique),
            "primary": bool(primary),
        }
        out[_unique_key(out, idef) if by_definition else name] = entry
    return _sorted(out)


def _strip_index_name(idef: str, quoted_name: str) -> str:
    """``CREATE [UNIQUE] INDEX name ON ...`` -> ``CREATE [UNIQUE] INDEX ON ...``."""
    for prefix in ("CREATE UNIQUE INDEX ", "CREATE INDEX "):
        named = f"{prefix}{quoted_name} "
        if idef.startswith(named):
            return prefix + idef[len(named) :]
    return idef


def _unique_key(taken: dict[str, Any], key: str) -> str:
    candidate, n = key, 1
    while candidate in taken:
        n += 1
        candidate = f"{key} #{n}"
    return candidate


def _sorted(d: dict[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in sorted(d)}


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return " ".join(str(value).split())  # view definitions span lines


def _prefix(path: list[str]) -> str:
    return ": ".join(path)


def _diff_value(path: list[str], a: Any, b: Any, out: list[str], entry: bool = False) -> None:
    """``entry``: ``path`` ends at a named entry ("view v"), not an attribute ("type")."""
    if isinstance(a, dict) and isinstance(b, dict):
        _diff_dict(path, a, b, out)
    elif isinstance(a, list) and isinstance(b, list):
        _diff_list(path, a, b, out)
    elif a != b:
        # "column age: type integer != bigint" but "view v: <def> != <def>"
        sep = ": " if entry else " "
        out.append(f"{_prefix(path)}{sep}{_fmt(a)} != {_fmt(b)}".lstrip())


def _diff_dict(path: list[str], a: dict[str, Any], b: dict[str, Any], out: list[str]) -> None:
    # A dict that is a section ("columns", ...) has entries named by the
    # section's label; any other dict (a column, an index...) has attributes.
    label = _LABELS.get(path[-1]) if path else None
    for key in sorted(set(a) | set(b)):
        child = [*path[:-1], f"{label} {key}"] if label is not None else [*path, key]
        if key not in b:
            out.append(f"{_prefix(child)}: only in first snapshot")
        elif key not in a:
            out.append(f"{_prefix(child)}: only in second snapshot")
        else:
            _diff_value(child, a[key], b[key], out, entry=label is not None)


def _diff_list(path: list[str], a: Iterable[Any], b: Iterable[Any], out: list[str]) -> None:
    label = _LABELS.get(path[-1], path[-1]) if path else "item"
    left, right = set(map(str, a)), set(map(str, b))
    parent = path[:-1]
    for item in sorted(left - right):
        out.append(_prefix([*parent, f"{label} {item}: only in first snapshot"]))
    for item in sorted(right - left):
        out.append(_prefix([*parent, f"{label} {item}: only in second snapshot"]))
