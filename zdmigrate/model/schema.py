"""The schema model: tables, columns, keys, indexes and constraints as plain data.

Read from a live server (``engine.introspect``), a ``pg_dump --schema-only``
file (``model.dump``) or a snapshot file (``model.snapshot``); operations
(``ops``) change it as they plan. Nothing here does I/O or imports a layer above.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from zdmigrate.spec.expr import referenced_columns, rename_columns

__all__ = [
    "INTERNAL_PREFIX",
    "MARKER",
    "Catalog",
    "Column",
    "ForeignKey",
    "Grant",
    "GrantChange",
    "IndexInfo",
    "Table",
    "catalog_from_json",
    "catalog_to_json",
    "internal_name",
]

INTERNAL_PREFIX = "_zdm_"
MARKER = "_zdm_needs_backfill"


def internal_name(*parts: str) -> str:
    """A zdmigrate object name within PostgreSQL's 63-byte limit, stable for its parts."""
    name = INTERNAL_PREFIX + "_".join(parts)
    if len(name.encode()) <= 63:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return name.encode()[:54].decode(errors="ignore") + "_" + digest


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

    @classmethod
    def of(
        cls, columns: list[str], ref_table: str, ref_columns: list[str], on_delete: str
    ) -> ForeignKey:
        """A foreign key as the server describes it (``pg_get_constraintdef``)."""
        definition = (
            f"FOREIGN KEY ({', '.join(columns)}) REFERENCES {ref_table}({', '.join(ref_columns)})"
        )
        if on_delete != "no action":
            definition += f" ON DELETE {on_delete.upper()}"
        return cls(tuple(columns), ref_table, tuple(ref_columns), definition)

    def retargeted(self, old: str, new: str) -> ForeignKey:
        """The same key once the table it references, ``old``, is called ``new``."""
        if self.ref_table != old:
            return self
        definition = self.definition.replace(f"REFERENCES {old}(", f"REFERENCES {new}(", 1)
        return replace(self, ref_table=new, definition=definition)

    def ref_column_renamed(self, old: str, new: str) -> ForeignKey:
        """The same key once the column it references, ``old``, is called ``new``."""
        if old not in self.ref_columns:
            return self
        refs = tuple(new if c == old else c for c in self.ref_columns)
        before = f"REFERENCES {self.ref_table}({', '.join(self.ref_columns)})"
        after = f"REFERENCES {self.ref_table}({', '.join(refs)})"
        definition = self.definition.replace(before, after, 1)
        return replace(self, ref_columns=refs, definition=definition)


@dataclass(frozen=True)
class IndexInfo:
    """A plain index (no expressions) as zdmigrate can rebuild it on a shadow column."""

    unique: bool
    method: str
    columns: tuple[str, ...]
    where: str | None = None
    constraint: bool = False
    expressions: bool = False


@dataclass(frozen=True)
class Grant:
    """One privilege of one role (``PUBLIC`` for everyone) on a table, or on one of its
    columns (``column``), as ``GRANT`` gave it; the owner's own privileges are not listed."""

    grantee: str
    privilege: str
    column: str | None = None
    grantable: bool = False

    def sort_key(self) -> tuple[str, str, str, bool]:
        return (self.grantee, self.column or "", self.privilege, self.grantable)


@dataclass(frozen=True)
class GrantChange:
    """One GRANT or REVOKE of a ``sql`` operation, on one table of the schema."""

    table: str
    grant: bool
    grants: tuple[Grant, ...]
    option_only: bool = False  # REVOKE GRANT OPTION FOR: the privilege stays

    def applied(self, grants: list[Grant]) -> list[Grant]:
        """``grants`` (a table's) once this statement has run."""
        out = list(grants)
        for g in self.grants:
            same = [
                o
                for o in out
                if o.grantee == g.grantee
                and o.privilege == g.privilege
                # a table-level REVOKE takes the column privileges too (as PostgreSQL does)
                and (o.column == g.column or (not self.grant and g.column is None))
            ]
            if self.grant:
                if not any(o.grantable or not g.grantable for o in same if o.column == g.column):
                    out = [o for o in out if o not in same or o.column != g.column] + [g]
            elif self.option_only:
                out = [replace(o, grantable=False) if o in same else o for o in out]
            else:
                out = [o for o in out if o not in same]
        return sorted(set(out), key=Grant.sort_key)


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
    grants: list[Grant] = field(default_factory=list)
    partitioned: bool = False  # PARTITION BY: its rows live in its partitions
    partition_of: str | None = None  # the partitioned table this one is a partition of

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def column_grants(self, name: str) -> list[Grant]:
        return [g for g in self.grants if g.column == name]

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

    # Changes, as operations make them (offline and at apply alike) and as the
    # server would then describe the table.

    def replace_column(self, name: str, column: Column) -> None:
        self.columns = [column if c.name == name else c for c in self.columns]

    def rename_column(self, old: str, new: str) -> None:
        """``old`` is called ``new`` now, in every key, index and check that names it."""

        def swap(cols: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(new if c == old else c for c in cols)

        self.columns = [replace(c, name=new) if c.name == old else c for c in self.columns]
        self.checks = {k: rename_columns(v, {old: new}) for k, v in self.checks.items()}
        self.indexes = {k: swap(v) for k, v in self.indexes.items()}
        self.index_info = {
            k: replace(i, columns=swap(i.columns)) for k, i in self.index_info.items()
        }
        self.foreign_keys = {
            k: replace(f, columns=swap(f.columns)) for k, f in self.foreign_keys.items()
        }
        self.primary_key = swap(self.primary_key)
        self.unique_keys = [swap(k) for k in self.unique_keys]
        self.grants = [replace(g, column=new) if g.column == old else g for g in self.grants]

    def drop_column(self, name: str) -> None:
        """The column goes, and with it every index and constraint on it (as DROP COLUMN)."""
        self.columns = [c for c in self.columns if c.name != name]
        for index, cols in list(self.indexes.items()):
            if name in cols:
                self.drop_index(index)
        for con, fk in list(self.foreign_keys.items()):
            if name in fk.columns:
                self.drop_constraint(con)
        for con, expr in list(self.checks.items()):
            if referenced_columns(expr, [name]):
                self.drop_constraint(con)
        self.unique_keys = [k for k in self.unique_keys if name not in k]
        self.grants = [g for g in self.grants if g.column != name]

    def add_index(self, name: str, info: IndexInfo) -> None:
        self.indexes[name] = info.columns
        self.index_info[name] = info
        if info.unique and info.where is None and not info.expressions:
            self.unique_keys.append(info.columns)

    def add_unique(self, name: str, columns: tuple[str, ...]) -> None:
        """A UNIQUE constraint and the index behind it."""
        self.add_index(name, IndexInfo(True, "btree", columns, None, constraint=True))
        self.constraints[name] = "unique"

    def add_primary_key(self, name: str, columns: tuple[str, ...]) -> None:
        self.indexes[name] = columns
        self.index_info[name] = IndexInfo(True, "btree", columns)
        self.constraints[name] = "primary_key"
        self.primary_key = columns

    def add_check(self, name: str, expr: str) -> None:
        self.constraints[name] = "check"
        self.checks[name] = expr

    def add_foreign_key(self, name: str, fk: ForeignKey) -> None:
        self.constraints[name] = "foreign_key"
        self.foreign_keys[name] = fk

    def drop_constraint(self, name: str) -> None:
        kind = self.constraints.pop(name, None)
        self.checks.pop(name, None)
        self.foreign_keys.pop(name, None)
        if kind in ("unique", "primary_key"):
            self.drop_index(name)

    def drop_index(self, name: str) -> None:
        cols = self.indexes.pop(name, None)
        info = self.index_info.pop(name, None)
        if info is not None and info.constraint:
            self.constraints.pop(name, None)
        if cols is not None and cols in self.unique_keys:
            self.unique_keys.remove(cols)
        if cols is not None and cols == self.primary_key and name.endswith("_pkey"):
            self.primary_key = ()


@dataclass
class Catalog:
    schema: str
    tables: dict[str, Table] = field(default_factory=dict)
    server_major: int | None = None
    source: str = "files"
    # what a table the migration role creates in the schema is granted (ALTER DEFAULT
    # PRIVILEGES); None: not known (a catalog read from files)
    default_grants: list[Grant] | None = None

    def table(self, name: str) -> Table | None:
        return self.tables.get(name)

    def rename_column(self, table: str, old: str, new: str) -> None:
        """As ``RENAME COLUMN``: in the table's own keys, indexes and checks, and in the
        foreign keys of every table that references the column."""
        self.tables[table].rename_column(old, new)
        for other in self.tables.values():
            other.foreign_keys = {
                name: fk.ref_column_renamed(old, new) if fk.ref_table == table else fk
                for name, fk in other.foreign_keys.items()
            }

    @property
    def live(self) -> bool:
        """Read from the database itself (row counts and sizes are real)."""
        return self.source == "database"

    @property
    def complete(self) -> bool:
        """Every table of the schema is known (not only those earlier files create)."""
        return self.source != "files"


def catalog_to_json(cat: Catalog) -> dict[str, Any]:
    """A plain-data copy, stored with the migration so later commands plan the same SQL."""
    return {
        "schema": cat.schema,
        "server_major": cat.server_major,
        "source": cat.source,
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
                "grants": [_grant_json(g) for g in t.grants],
                "partitioned": t.partitioned,
                "partition_of": t.partition_of,
            }
            for name, t in cat.tables.items()
        },
        "default_grants": (
            None if cat.default_grants is None else [_grant_json(g) for g in cat.default_grants]
        ),
    }


def _grant_json(g: Grant) -> list[Any]:
    return [g.grantee, g.privilege, g.column, g.grantable]


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
            [Grant(*g) for g in t.get("grants", [])],
            bool(t.get("partitioned", False)),
            t.get("partition_of"),
        )
        for name, t in data["tables"].items()
    }
    defaults = data.get("default_grants")
    return Catalog(
        data["schema"],
        tables,
        data.get("server_major"),
        data.get("source", "database"),
        None if defaults is None else [Grant(*g) for g in defaults],
    )
