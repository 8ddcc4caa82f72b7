"""Column types as the parser gives them, and which type changes need no rewrite.

PostgreSQL skips the rewrite of ``ALTER COLUMN ... TYPE`` when the old type is
binary coercible to the new one and the length coercion, if any, can be
dropped (the types' support functions: ``varchar_support``,
``numeric_support``, ``varbit_support``, ``timestamp_support``,
``time_support``, ``interval_support``). The pairs below keep the table's
files and the indexes on the column (checked against ``relfilenode`` on a real
server in ``tests/lint/test_types_db.py``). Pairs that keep the table but
rebuild the column's indexes (``bit(n)`` to ``varbit``, ``integer`` to
``oid``), or that depend on the session's TimeZone (``timestamp`` to
``timestamptz``), are not among them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from zdmigrate.lint._node import Node, const_value, parse_one
from zdmigrate.lint.hints import ExistingType

__all__ = [
    "ColType",
    "TypeChange",
    "compare",
    "existing_type",
    "parse_type",
    "type_of",
]

# Names the parser leaves as written, to the names it gives the same types.
_ALIASES = {
    "int": "int4",
    "integer": "int4",
    "bigint": "int8",
    "smallint": "int2",
    "decimal": "numeric",
    "character varying": "varchar",
    "bit varying": "varbit",
    "boolean": "bool",
    "real": "float4",
    "double precision": "float8",
    "character": "bpchar",
    "char": "bpchar",
}
# Types whose typmod is a length or precision that may grow without a rewrite.
_WIDENS = frozenset({"varchar", "varbit", "timestamp", "timestamptz", "time", "timetz"})
# (old, new): binary coercible, no typmod on the new type, indexes kept.
_SAME_READS = frozenset({("text", "varchar"), ("varchar", "text")})
_OTHER_READS = {("cidr", "inet"): "inet prints a host address without /32 (or /128)"}


@dataclass(frozen=True)
class ColType:
    """A column type: its (last) name, its integer modifiers, whether an array."""

    name: str
    mods: tuple[int, ...] = ()
    array: bool = False
    schema: str = ""

    def __str__(self) -> str:
        mods = f"({','.join(map(str, self.mods))})" if self.mods else ""
        return f"{self.name}{mods}{'[]' if self.array else ''}"


def type_of(type_name: Any) -> ColType | None:
    """The ColType of a parser TypeName; None when its modifiers are not plain integers."""
    if not isinstance(type_name, Node) or not type_name.names:
        return None
    names = [str(n.sval) for n in type_name.names]
    schema = names[0] if len(names) > 1 and names[0] != "pg_catalog" else ""
    name = _ALIASES.get(names[-1].lower(), names[-1].lower())
    mods = [const_value(m) for m in type_name.typmods or ()]
    if any(not isinstance(m, int) or isinstance(m, bool) for m in mods):
        return None
    return ColType(name, tuple(mods), bool(type_name.arrayBounds), schema)


def parse_type(text: str) -> ColType | None:
    """The ColType of a type written as SQL (``VARCHAR(50)``, ``NUMERIC(10, 2)``)."""
    try:
        node = parse_one(f"SELECT NULL::{text}")
    except Exception:  # pglast's ParseError, or a text that is not one statement
        return None
    targets = node.targetList or ()
    cast = targets[0].val if targets else None
    return type_of(cast.typeName) if isinstance(cast, Node) and cast.tag == "TypeCast" else None


class TypeChange(Enum):
    REWRITE = "rewrite"  # or not known to avoid one
    NO_REWRITE = "no rewrite, the old version reads and writes as before"
    NO_REWRITE_READS_DIFFER = "no rewrite, but the old version reads another type"


def _wider(name: str, old: tuple[int, ...], new: tuple[int, ...]) -> bool:
    if not new:
        return True  # no limit, or the largest precision
    if not old:
        return False
    if name == "numeric":
        old_scale = old[1] if len(old) > 1 else 0
        new_scale = new[1] if len(new) > 1 else 0
        return new_scale == old_scale and new[0] >= old[0]
    if name == "interval":
        return False
    return new[0] >= old[0]


def compare(old: ColType, new: ColType) -> tuple[TypeChange, str]:
    """Whether changing ``old`` to ``new`` (no USING) rewrites the table, and why not."""
    if old.array or new.array or old.schema or new.schema:
        same = old == new
        return (TypeChange.NO_REWRITE, "") if same else (TypeChange.REWRITE, "")
    if old.name == new.name:
        if old.mods == new.mods:
            return TypeChange.NO_REWRITE, ""
        widens = old.name in _WIDENS or old.name in ("numeric", "interval")
        if widens and _wider(old.name, old.mods, new.mods):
            return TypeChange.NO_REWRITE, ""
        return TypeChange.REWRITE, ""
    if new.mods:
        return TypeChange.REWRITE, ""
    if (old.name, new.name) in _SAME_READS:
        return TypeChange.NO_REWRITE, ""
    reads = _OTHER_READS.get((old.name, new.name))
    if reads is not None:
        return TypeChange.NO_REWRITE_READS_DIFFER, reads
    return TypeChange.REWRITE, ""


def existing_type(source: Any, start: int, table: str, column: str) -> ColType | None:
    """The old type of ``table.column`` that ``source`` gives for a statement at ``start``."""
    hints: tuple[ExistingType, ...] = tuple(getattr(source, "existing_types", ()))
    for hint in hints:
        if not (hint.start <= start < hint.end and hint.column == column):
            continue
        if hint.table == table or hint.table.rsplit(".", 1)[-1] == table.rsplit(".", 1)[-1]:
            return parse_type(hint.type_sql)
    return None
