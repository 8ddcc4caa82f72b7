"""What zdmigrate knows of a schema's tables: read from a server, or simulated offline.

``introspect`` reads the live catalog; ``Catalog.apply`` replays a migration's
operations on a catalog so ``plan`` can work offline from earlier files.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from zdmigrate.spec import models as m
from zdmigrate.spec.expr import rename_columns

__all__ = [
    "Catalog",
    "Column",
    "ForeignKey",
    "IndexInfo",
    "Table",
    "catalog_from_json",
    "catalog_to_json",
    "introspect",
]

INTERNAL_PREFIX = "_zdm_"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    default: str | None = None
    generated: bool = False


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key of a table: its columns, the table and columns it references."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    definition: str


@dataclass(frozen=True)
class IndexInfo:
    """A plain index (no expressions) as zdmigrate can rebuild it on a shadow column."""

    unique: bool
    method: str
    columns: tuple[str, ...]
    where: str | None = None
    constraint: bool = False
    expressions: bool = False


@dataclass
class Table:
    name: str
    columns: list[Column]
    primary_key: tuple[str, ...] = ()
    unique_keys: list[tuple[str, ...]] = field(default_factory=list)
    indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    constraints: dict[str, str] = field(default_factory=dict)
    row_estimate: int | None = None
    size_bytes: int | None = None
    checks: dict[str, str] = field(default_factory=dict)
    index_info: dict[str, IndexInfo] = field(default_factory=dict)
    foreign_keys: dict[str, ForeignKey] = field(default_factory=dict)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def app_columns(self) -> list[Column]:
        """Columns an application sees (zdmigrate's internal columns left out)."""
        return [c for c in self.columns if not c.name.startswith(INTERNAL_PREFIX)]

    def key(self) -> tuple[str, ...] | None:
        """The key the backfill walks: the primary key, else a unique NOT NULL key."""
        if self.primary_key:
            return self.primary_key
        for cols in self.unique_keys:
            if all((c := self.column(n)) is not None and not c.nullable for n in cols):
                return cols
        return None


@dataclass
class Catalog:
    schema: str
    tables: dict[str, Table] = field(default_factory=dict)
    server_major: int | None = None
    live: bool = False

    def table(self, name: str) -> Table | None:
        return self.tables.get(name)

    def apply(self, op: m.Operation) -> None:
        """Update this catalog as if ``op`` had been completed (offline planning)."""
        handler = _APPLY.get(type(op))
        if handler is not None:
            handler(self, op)


def _cols_of(defs: list[m.ColumnDef]) -> list[Column]:
    return [Column(d.name, d.type, d.nullable and not d.primary_key, d.default) for d in defs]


def _foreign_key(columns: list[str], ref: m.ForeignKeyRef) -> ForeignKey:
    """A foreign key as the server would describe it (for offline planning)."""
    cols = ", ".join(columns)
    definition = f"FOREIGN KEY ({cols}) REFERENCES {ref.table}({', '.join(ref.columns)})" + (
        "" if ref.on_delete == "no action" else f" ON DELETE {ref.on_delete.upper()}"
    )
    return ForeignKey(tuple(columns), ref.table, tuple(ref.columns), definition)


def _apply_create_table(cat: Catalog, op: Any) -> None:
    pk = tuple(d.name for d in op.columns if d.primary_key)
    uniques: list[tuple[str, ...]] = [(d.name,) for d in op.columns if d.unique]
    table = Table(op.table, _cols_of(op.columns), pk, uniques)
    for d in op.columns:
        if d.references is not None:
            table.foreign_keys[f"{op.table}_{d.name}_fkey"] = _foreign_key([d.name], d.references)
        if d.unique:
            key = f"{op.table}_{d.name}_key"
            table.indexes[key] = (d.name,)
            table.index_info[key] = IndexInfo(True, "btree", (d.name,), None, True)
        if d.check is not None:
            table.checks[f"{op.table}_{d.name}_check"] = d.check
            table.constraints[f"{op.table}_{d.name}_check"] = "check"
    cat.tables[op.table] = table


def _apply_add_column(cat: Catalog, op: Any) -> None:
    t = cat.tables.get(op.table)
    if t is not None:
        t.columns.append(_cols_of([op.column])[0])
        if op.column.references is not None:
            fk = _foreign_key([op.column.name], op.column.references)
            t.foreign_keys[f"{op.table}_{op.column.name}_fkey"] = fk
        if op.column.unique:
            t.unique_keys.append((op.column.name,))


def _apply_drop_column(cat: Catalog, op: Any) -> None:
    t = cat.tables.get(op.table)
    if t is not None:
        t.columns = [c for c in t.columns if c.name != op.column]


def _rename_in(t: Table, old: str, new: str) -> None:
    t.columns = [replace(c, name=new) if c.name == old else c for c in t.columns]
    t.checks = {k: rename_columns(v, {old: new}) for k, v in t.checks.items()}
    t.index_info = {
        k: replace(i, columns=tuple(new if c == old else c for c in i.columns))
        for k, i in t.index_info.items()
    }
    t.primary_key = tuple(new if c == old else c for c in t.primary_key)
    t.unique_keys = [tuple(new if c == old else c for c in k) for k in t.unique_keys]


def _apply_rename_column(cat: Catalog, op: Any) -> None:
    t = cat.tables.get(op.table)
    if t is not None:
        _rename_in(t, op.from_, op.to)


def _apply_alter_column(cat: Catalog, op: Any) -> None:
    t = cat.tables.get(op.table)
    col = t.column(op.column) if t else None
    if t is None or col is None:
        return
    new = replace(
        col,
        type=op.type or col.type,
        nullable=col.nullable if op.nullable is None else op.nullable,
        default=None if op.drop_default else (op.default or col.default),
    )
    t.columns = [new if c.name == op.column else c for c in t.columns]
    if op.name:
        _rename_in(t, op.column, op.name)


def _apply_drop_table(cat: Catalog, op: Any) -> None:
    cat.tables.pop(op.table, None)


def _apply_rename_table(cat: Catalog, op: Any) -> None:
    t = cat.tables.pop(op.from_, None)
    if t is not None:
        t.name = op.to
        cat.tables[op.to] = t


def _apply_create_index(cat: Catalog, op: Any) -> None:
    t = cat.tables.get(op.table)
    if t is not None:
        t.indexes[op.name] = tuple(op.columns)
        t.index_info[op.name] = IndexInfo(op.unique, op.method, tuple(op.columns), op.where)
        if op.unique and op.where is None:
            t.unique_keys.append(tuple(op.columns))


def _apply_drop_index(cat: Catalog, op: Any) -> None:
    for t in cat.tables.values():
        t.indexes.pop(op.name, None)
        t.index_info.pop(op.name, None)


def _apply_create_constraint(cat: Catalog, op: Any) -> None:
    t = cat.tables.get(op.table)
    if t is not None:
        t.constraints[op.name] = op.type
        if op.type == "check" and op.check is not None:
            t.checks[op.name] = op.check
        if op.type == "foreign_key" and op.references is not None:
            t.foreign_keys[op.name] = _foreign_key(list(op.columns), op.references)
        if op.type == "unique":
            t.unique_keys.append(tuple(op.columns))
            t.indexes[op.name] = tuple(op.columns)
            t.index_info[op.name] = IndexInfo(True, "btree", tuple(op.columns), None, True)


def _apply_drop_constraint(cat: Catalog, op: Any) -> None:
    t = cat.tables.get(op.table)
    if t is not None:
        t.constraints.pop(op.name, None)
        t.checks.pop(op.name, None)
        t.foreign_keys.pop(op.name, None)


_APPLY: dict[type, Any] = {
    m.CreateTable: _apply_create_table,
    m.AddColumn: _apply_add_column,
    m.DropColumn: _apply_drop_column,
    m.RenameColumn: _apply_rename_column,
    m.AlterColumn: _apply_alter_column,
    m.DropTable: _apply_drop_table,
    m.RenameTable: _apply_rename_table,
    m.CreateIndex: _apply_create_index,
    m.DropIndex: _apply_drop_index,
    m.CreateConstraint: _apply_create_constraint,
    m.DropConstraint: _apply_drop_constraint,
}

_COLUMNS_SQL = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
       a.attgenerated <> ''
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
 ORDER BY c.relname, a.attnum
"""

_INDEXES_SQL = """
SELECT t.relname, i.relname, x.indisprimary, x.indisunique AND x.indpred IS NULL
       AND x.indexprs IS NULL,
       ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n),
       x.indisunique, am.amname, pg_get_expr(x.indpred, x.indrelid), x.indexprs IS NOT NULL,
       EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid
               AND c.contype = 'u')
  FROM pg_index x
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_am am ON am.oid = i.relam
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = %s AND x.indisvalid
"""

_CONSTRAINTS_SQL = """
SELECT t.relname, c.conname, c.contype,
       CASE WHEN c.contype = 'c' THEN pg_get_expr(c.conbin, c.conrelid) END
  FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = %s AND c.contype IN ('c', 'u', 'f', 'x', 'p')
"""

_FOREIGN_KEYS_SQL = """
SELECT t.relname, c.conname, r.relname, pg_get_constraintdef(c.oid),
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)
  FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
  JOIN pg_class r ON r.oid = c.confrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = %s AND c.contype = 'f' AND r.relnamespace = n.oid
"""

_SIZES_SQL = """
SELECT c.relname, c.reltuples::bigint, pg_table_size(c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
"""

_CONTYPES = {"c": "check", "u": "unique", "f": "foreign_key", "x": "exclusion", "p": "primary_key"}


def introspect(conn: psycopg.Connection[Any], schema: str) -> Catalog:
    """Read the tables of ``schema`` from the server."""
    cat = Catalog(schema, server_major=conn.info.server_version // 10000, live=True)
    for rel, name, typ, nullable, default, generated in conn.execute(_COLUMNS_SQL, (schema,)):
        table = cat.tables.setdefault(rel, Table(rel, []))
        table.columns.append(Column(name, typ, nullable, default, generated))
    for row in conn.execute(_INDEXES_SQL, (schema,)):
        rel, idx, primary, unique, cols, any_unique, method, where, exprs, constraint = row
        table = cat.tables[rel]
        table.indexes[idx] = tuple(cols)
        table.index_info[idx] = IndexInfo(any_unique, method, tuple(cols), where, constraint, exprs)
        if primary:
            table.primary_key = tuple(cols)
        elif unique:
            table.unique_keys.append(tuple(cols))
    for rel, con, contype, check in conn.execute(_CONSTRAINTS_SQL, (schema,)):
        cat.tables[rel].constraints[con] = _CONTYPES[contype]
        if check is not None:
            cat.tables[rel].checks[con] = check
    for rel, con, ref, definition, cols, ref_cols in conn.execute(_FOREIGN_KEYS_SQL, (schema,)):
        fk = ForeignKey(tuple(cols), ref, tuple(ref_cols), definition)
        cat.tables[rel].foreign_keys[con] = fk
    for rel, rows, size in conn.execute(_SIZES_SQL, (schema,)):
        cat.tables[rel].row_estimate = int(rows) if rows >= 0 else None  # -1: never analyzed
        cat.tables[rel].size_bytes = int(size)
    return cat


def catalog_to_json(cat: Catalog) -> dict[str, Any]:
    """A plain-data copy, stored with the migration so later commands plan the same SQL."""
    return {
        "schema": cat.schema,
        "server_major": cat.server_major,
        "tables": {
            name: {
                "columns": [
                    [c.name, c.type, c.nullable, c.default, c.generated] for c in t.columns
                ],
                "primary_key": list(t.primary_key),
                "unique_keys": [list(k) for k in t.unique_keys],
                "indexes": {k: list(v) for k, v in t.indexes.items()},
                "constraints": dict(t.constraints),
                "row_estimate": t.row_estimate,
                "size_bytes": t.size_bytes,
                "checks": dict(t.checks),
                "foreign_keys": {
                    k: [list(f.columns), f.ref_table, list(f.ref_columns), f.definition]
                    for k, f in t.foreign_keys.items()
                },
                "index_info": {
                    k: [i.unique, i.method, list(i.columns), i.where, i.constraint, i.expressions]
                    for k, i in t.index_info.items()
                },
            }
            for name, t in cat.tables.items()
        },
    }


def catalog_from_json(data: dict[str, Any]) -> Catalog:
    tables = {
        name: Table(
            name,
            [Column(*c) for c in t["columns"]],
            tuple(t["primary_key"]),
            [tuple(str(c) for c in k) for k in t["unique_keys"]],
            {k: tuple(v) for k, v in t["indexes"].items()},
            dict(t["constraints"]),
            t.get("row_estimate"),
            t.get("size_bytes"),
            dict(t.get("checks", {})),
            {
                k: IndexInfo(i[0], i[1], tuple(i[2]), i[3], i[4], i[5])
                for k, i in t.get("index_info", {}).items()
            },
            {
                k: ForeignKey(tuple(f[0]), f[1], tuple(f[2]), f[3])
                for k, f in t.get("foreign_keys", {}).items()
            },
        )
        for name, t in data["tables"].items()
    }
    return Catalog(data["schema"], tables, data.get("server_major"), live=True)
