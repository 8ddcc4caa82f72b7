"""What the linted set says about tables that exist: column types, NOT NULL checks.

Earlier migrations of the linted set are deployed, so their tables are not new,
but what they created is known: the type of each column (to tell a type change
that needs no rewrite) and the ``CHECK (col IS NOT NULL)`` constraints and
whether they are validated (the safe SET NOT NULL recipe). Statements on tables
the linted set never created add what they say (``ALTER COLUMN ... TYPE`` gives
the type from then on).

Every read and write names its table in ``asked``: a run of sources linted
without the model of earlier runs is exact when none of those tables is in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zdmigrate.lint._types import ColType

__all__ = ["Known", "table_key"]


def table_key(key: str) -> str:
    """``public.t`` and ``t`` are the same table for the model."""
    return key[7:] if key.startswith("public.") else key


@dataclass
class Known:
    # table -> column -> its type (None: a type the model cannot compare)
    columns: dict[str, dict[str, ColType | None]] = field(default_factory=dict)
    # table -> constraint name -> (column it proves NOT NULL, validated)
    not_null_checks: dict[str, dict[str, tuple[str, bool]]] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)

    def _ask(self, table: str) -> str:
        key = table_key(table)
        self.asked.add(key)
        return key

    def tables(self) -> set[str]:
        return set(self.columns) | set(self.not_null_checks)

    def column_type(self, table: str, column: str) -> ColType | None:
        return self.columns.get(self._ask(table), {}).get(column)

    def set_column(self, table: str, column: str, typ: ColType | None) -> None:
        self.columns.setdefault(self._ask(table), {})[column] = typ

    def drop_column(self, table: str, column: str) -> None:
        key = self._ask(table)
        self.columns.get(key, {}).pop(column, None)
        checks = self.not_null_checks.get(key, {})
        for name in [n for n, (col, _) in checks.items() if col == column]:
            del checks[name]

    def rename_column(self, table: str, old: str, new: str) -> None:
        key = self._ask(table)
        cols = self.columns.get(key, {})
        if old in cols:
            cols[new] = cols.pop(old)
        checks = self.not_null_checks.get(key, {})
        for name, (col, valid) in list(checks.items()):
            if col == old:
                checks[name] = (new, valid)

    def rename_table(self, old: str, new: str) -> None:
        old_key, new_key = self._ask(old), self._ask(new)
        for part in (self.columns, self.not_null_checks):
            if old_key in part:
                part[new_key] = part.pop(old_key)  # type: ignore[assignment]

    def drop_table(self, table: str) -> None:
        key = self._ask(table)
        self.columns.pop(key, None)
        self.not_null_checks.pop(key, None)

    def add_not_null_check(self, table: str, name: str, column: str, valid: bool) -> None:
        self.not_null_checks.setdefault(self._ask(table), {})[name] = (column, valid)

    def validate(self, table: str, name: str) -> None:
        checks = self.not_null_checks.get(self._ask(table), {})
        if name in checks:
            checks[name] = (checks[name][0], True)

    def drop_constraint(self, table: str, name: str) -> None:
        self.not_null_checks.get(self._ask(table), {}).pop(name, None)

    def rename_constraint(self, table: str, old: str, new: str) -> None:
        checks = self.not_null_checks.get(self._ask(table), {})
        if old in checks:
            checks[new] = checks.pop(old)

    def proves_not_null(self, table: str, column: str) -> bool:
        """A validated ``CHECK (column IS NOT NULL)`` exists on ``table``."""
        checks = self.not_null_checks.get(self._ask(table), {})
        return any(col == column and valid for col, valid in checks.values())

    def merge(self, later: Known) -> None:
        """Add what a run that touched none of this model's tables learned."""
        self.columns.update(later.columns)
        self.not_null_checks.update(later.not_null_checks)
