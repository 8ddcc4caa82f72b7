"""What the linted set says about tables that exist: column types, NOT NULL checks.

Earlier migrations of the linted set are deployed, so their tables are not new,
but what they created is known: the type of each column (to tell a type change
that needs no rewrite) and the ``CHECK (col IS NOT NULL)`` constraints and
whether they are validated (the safe SET NOT NULL recipe). Statements on tables
the linted set never created add what they say (``ALTER COLUMN ... TYPE`` gives
the type from then on).

Every read, and every change that depends on what was known before (a drop, a
rename, a validation), names its table in ``asked``; changes that do not (a new
column's type, a new check) do not. A run of sources linted without the model
of earlier runs is exact when none of the tables it asked about is in that
model, and the two models then merge table by table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zdmigrate.lint._privileges import Privileges
from zdmigrate.lint._types import ColType, parse_type

__all__ = ["Known", "from_catalog", "table_key"]


def table_key(key: str) -> str:
    """``public.t`` and ``t`` are the same table for the model."""
    return key[7:] if key.startswith("public.") else key


@dataclass
class Known:
    # table -> column -> its type (None: a type the model cannot compare)
    columns: dict[str, dict[str, ColType | None]] = field(default_factory=dict)
    # table -> constraint name -> (columns it proves NOT NULL, validated); a NOT NULL
    # column is there too, under the name " not null <column>"
    not_null_checks: dict[str, dict[str, tuple[frozenset[str], bool]]] = field(default_factory=dict)
    # table -> CHECK constraint name -> (the constants and the columns its expression
    # holds, validated)
    checks: dict[str, dict[str, tuple[frozenset[str], frozenset[str], bool]]] = field(
        default_factory=dict
    )
    # "function <schema>.<name>" -> its volatility (functions created in the linted set)
    functions: dict[str, str] = field(default_factory=dict)
    # what GRANT, REVOKE and ALTER DEFAULT PRIVILEGES gave (keys "grants <schema>",
    # "default privileges")
    privileges: Privileges = field(default_factory=Privileges)
    asked: set[str] = field(default_factory=set)

    def _ask(self, table: str) -> str:
        key = table_key(table)
        self.asked.add(key)
        return key

    @staticmethod
    def _key(table: str) -> str:
        return table_key(table)

    def tables(self) -> set[str]:
        """Every table (and function) the model knows something of."""
        return (
            set(self.columns)
            | set(self.not_null_checks)
            | set(self.checks)
            | set(self.functions)
            | self.privileges.keys()
        )

    @staticmethod
    def _function_key(schema: str, name: str) -> str:
        return f"function {schema or 'public'}.{name}"

    def set_function(self, schema: str, name: str, volatility: str) -> None:
        self.functions[self._function_key(schema, name)] = volatility

    def function_volatility(self, schema: str, name: str) -> str | None:
        """``immutable``, ``stable`` or ``volatile`` for a function the linted set created."""
        key = self._function_key(schema, name)
        self.asked.add(key)
        return self.functions.get(key)

    def _parts(self) -> tuple[dict[str, Any], ...]:
        return (self.columns, self.not_null_checks, self.checks)

    def column_names(self, table: str) -> set[str]:
        """The columns the linted set gave ``table`` (none: a table it did not create)."""
        return set(self.columns.get(self._ask(table), {}))

    def column_type(self, table: str, column: str) -> ColType | None:
        return self.columns.get(self._ask(table), {}).get(column)

    def set_column(self, table: str, column: str, typ: ColType | None) -> None:
        self.columns.setdefault(self._key(table), {})[column] = typ

    def drop_column(self, table: str, column: str) -> None:
        key = self._ask(table)
        self.columns.get(key, {}).pop(column, None)
        checks = self.not_null_checks.get(key, {})
        for name in [n for n, (cols, _) in checks.items() if column in cols]:
            del checks[name]

    def rename_column(self, table: str, old: str, new: str) -> None:
        key = self._ask(table)
        types = self.columns.get(key, {})
        if old in types:
            types[new] = types.pop(old)
        checks = self.not_null_checks.get(key, {})
        for name, (cols, valid) in list(checks.items()):
            if old in cols:
                checks[name] = ((cols - {old}) | {new}, valid)

    def rename_table(self, old: str, new: str) -> None:
        old_key, new_key = self._ask(old), self._ask(new)
        for part in self._parts():
            if old_key in part:
                part[new_key] = part.pop(old_key)

    def drop_table(self, table: str) -> None:
        key = self._ask(table)
        for part in self._parts():
            part.pop(key, None)

    def add_not_null_check(
        self, table: str, name: str, columns: frozenset[str], valid: bool
    ) -> None:
        self.not_null_checks.setdefault(self._key(table), {})[name] = (columns, valid)

    def set_not_null(self, table: str, column: str, not_null: bool) -> None:
        """The column's own NOT NULL (SET / DROP NOT NULL, NOT NULL or PRIMARY KEY)."""
        if not_null:
            self.add_not_null_check(table, f" not null {column}", frozenset({column}), True)
        else:
            self.drop_constraint(table, f" not null {column}")

    def add_check(
        self, table: str, name: str, constants: frozenset[str], columns: frozenset[str], valid: bool
    ) -> None:
        self.checks.setdefault(self._key(table), {})[name] = (constants, columns, valid)

    def validate(self, table: str, name: str) -> None:
        key = self._ask(table)
        for part in (self.not_null_checks, self.checks):
            found: dict[str, tuple[Any, ...]] = part.get(key, {})
            if name in found:
                found[name] = (*found[name][:-1], True)

    def drop_constraint(self, table: str, name: str) -> None:
        key = self._ask(table)
        self.not_null_checks.get(key, {}).pop(name, None)
        self.checks.get(key, {}).pop(name, None)

    def rename_constraint(self, table: str, old: str, new: str) -> None:
        key = self._ask(table)
        for part in (self.not_null_checks, self.checks):
            found: dict[str, Any] = part.get(key, {})
            if old in found:
                found[new] = found.pop(old)

    def validated_checks(self, table: str) -> list[tuple[frozenset[str], frozenset[str]]]:
        """(constants, columns) of each validated CHECK constraint of ``table``."""
        checks = self.checks.get(self._ask(table), {}).values()
        return [(consts, cols) for consts, cols, valid in checks if valid]

    def proves_not_null(self, table: str, column: str) -> bool:
        """The column is NOT NULL, or a validated ``CHECK (column IS NOT NULL)`` exists."""
        checks = self.not_null_checks.get(self._ask(table), {})
        return any(column in cols and valid for cols, valid in checks.values())

    def merge(self, later: Known) -> None:
        """Add what a run that asked about none of this model's tables learned."""
        pairs: list[tuple[dict[str, Any], dict[str, Any]]] = [
            (self.columns, later.columns),
            (self.not_null_checks, later.not_null_checks),
            (self.checks, later.checks),
        ]
        for mine, theirs in pairs:
            for table, entries in theirs.items():
                mine.setdefault(table, {}).update(entries)
        self.functions.update(later.functions)
        self.privileges.merge(later.privileges)


def from_catalog(catalog: Any) -> Known:
    """What a schema file (``pg_dump --schema-only`` or snapshot, read as a Catalog) says:
    column types, NOT NULL columns, table grants and (a snapshot's) default privileges
    of the migration role. Its checks are left out: whether they are validated is not
    kept."""
    known = Known()
    privileges = known.privileges
    for name, table in catalog.tables.items():
        key = name if catalog.schema == "public" else f"{catalog.schema}.{name}"
        for col in table.columns:
            known.set_column(key, col.name, parse_type(col.type))
            if not col.nullable:
                known.set_not_null(key, col.name, True)
        roles = privileges.tables.setdefault(catalog.schema, {}).setdefault(name, {})
        for grant in table.grants:
            roles.setdefault(grant.grantee, set()).add(grant.privilege)
    for grant in catalog.default_grants or ():
        roles = privileges.defaults.setdefault(("", catalog.schema), {})
        roles.setdefault(grant.grantee, set()).add(grant.privilege)
    known.asked.clear()
    return known
