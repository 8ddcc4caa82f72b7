"""Column definitions and constraints of a parse tree, as migration-file fields.

Each function returns the fields, or raises :class:`Unsupported` with the
reason, and the caller keeps the statement as a ``sql`` operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast.enums import ConstrType

from zdmigrate.convert._pg import clause_sql, expr_sql, type_sql

__all__ = [
    "ON_DELETE",
    "ColumnFields",
    "Unsupported",
    "column_fields",
    "fk_target",
    "names",
]

ON_DELETE = {
    "a": "no action",
    "r": "restrict",
    "c": "cascade",
    "n": "set null",
    "d": "set default",
}


class Unsupported(Exception):
    """What a migration file cannot say; the statement stays SQL."""


@dataclass
class ColumnFields:
    fields: dict[str, Any]
    review: dict[str, str] = field(default_factory=dict)  # keys relative to the column
    fill: dict[str, str] = field(default_factory=dict)


def names(items: Any) -> list[str]:
    """``(String, String)`` -> ``["a", "b"]``."""
    return [str(item.sval) for item in items or ()]


def fk_target(con: Any, table: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A foreign key's ``references`` and what to fill in it."""
    if con.fk_upd_action not in ("a", "\x00", None):
        raise Unsupported("ON UPDATE has no equivalent in a migration file")
    if con.fk_matchtype not in ("s", "\x00", None):
        raise Unsupported("MATCH FULL has no equivalent in a migration file")
    if con.deferrable or con.initdeferred:
        raise Unsupported("DEFERRABLE has no equivalent in a migration file")
    if con.fk_del_set_cols:
        raise Unsupported("ON DELETE SET NULL (columns) has no equivalent in a migration file")
    target = con.pktable
    schema = table.split(".")[0] if "." in table else None
    if target.schemaname and target.schemaname != schema:
        raise Unsupported("the referenced table is in another schema")
    ref: dict[str, Any] = {"table": str(target.relname)}
    fill = {}
    columns = names(con.pk_attrs)
    if columns:
        ref["columns"] = columns
    else:
        fill["columns"] = "the referenced columns (the SQL relies on the primary key of " + (
            f"{target.relname})"
        )
    action = ON_DELETE.get(con.fk_del_action or "a", "no action")
    if action != "no action":
        ref["on_delete"] = action
    return ref, fill


def _constraint(out: ColumnFields, con: Any, table: str) -> None:
    kind = con.contype
    lost = f"the constraint name '{con.conname}' is not kept" if con.conname else ""
    if kind == ConstrType.CONSTR_NOTNULL:
        out.fields["nullable"] = False
    elif kind == ConstrType.CONSTR_NULL:
        return
    elif kind == ConstrType.CONSTR_DEFAULT:
        out.fields["default"] = expr_sql(con.raw_expr)
    elif kind == ConstrType.CONSTR_PRIMARY:
        out.fields["primary_key"] = True
    elif kind == ConstrType.CONSTR_UNIQUE:
        if con.nulls_not_distinct:
            raise Unsupported("UNIQUE NULLS NOT DISTINCT has no equivalent in a migration file")
        out.fields["unique"] = True
        if lost:
            out.review["unique"] = lost + " (PostgreSQL names it)"
    elif kind == ConstrType.CONSTR_CHECK:
        out.fields["check"] = expr_sql(con.raw_expr)
        if lost:
            out.review["check"] = lost + " (PostgreSQL names it)"
    elif kind == ConstrType.CONSTR_FOREIGN:
        ref, fill = fk_target(con, table)
        out.fields["references"] = ref
        out.fill.update({f"references.{k}": v for k, v in fill.items()})
        if lost:
            out.review["references"] = lost + " (PostgreSQL names it)"
    else:
        clause = clause_sql(con, kind.name.removeprefix("CONSTR_"))
        raise Unsupported(f"a column's {clause} has no equivalent in a migration file")


_ORDER = ("name", "type", "nullable", "default", "primary_key", "unique", "check", "references")


def column_fields(col: Any, table: str) -> ColumnFields:
    """A ``ColumnDef`` as a column definition of a migration file."""
    if col.collClause is not None:
        raise Unsupported("COLLATE has no equivalent in a migration file")
    options = (col.identity, col.generated, col.compression, col.storage_name)
    if any(o not in (None, "", "\x00") for o in options):
        raise Unsupported("identity, generated and storage options have no equivalent")
    out = ColumnFields({"name": str(col.colname), "type": type_sql(col.typeName)})
    if col.raw_default is not None:
        out.fields["default"] = expr_sql(col.raw_default)
    for con in col.constraints or ():
        _constraint(out, con, table)
    out.fields = {k: out.fields[k] for k in _ORDER if k in out.fields}
    return out
