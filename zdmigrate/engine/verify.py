"""``verify``: prove, in keyset chunks, that every row's old and new columns agree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zdmigrate.engine.db import connect
from zdmigrate.plan.backfill import VerifySpec

__all__ = ["TableVerification", "Verification", "verify_specs"]

CHUNK_ROWS = 20_000


@dataclass
class TableVerification:
    table: str
    rows_checked: int = 0
    mismatches: int = 0
    keys: list[str] = field(default_factory=list)


@dataclass
class Verification:
    migration: str
    tables: list[TableVerification]

    @property
    def ok(self) -> bool:
        return all(t.mismatches == 0 for t in self.tables)

    @property
    def mismatches(self) -> int:
        return sum(t.mismatches for t in self.tables)

    def summary(self) -> str:
        bad = [t for t in self.tables if t.mismatches]
        if not bad:
            rows = sum(t.rows_checked for t in self.tables)
            return f"{self.migration}: {rows:,} rows verified, all consistent"
        parts = [f"{t.table}: {t.mismatches:,} rows, e.g. {', '.join(t.keys)}" for t in bad]
        return f"{self.migration}: rows whose old and new columns disagree: " + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "migration": self.migration,
            "ok": self.ok,
            "mismatches": self.mismatches,
            "tables": [t.__dict__ for t in self.tables],
        }


def _key_label(spec: VerifySpec, key: list[str]) -> str:
    return f"({', '.join(spec.key)})=({', '.join(key)})"


def verify_specs(
    url: str,
    migration: str,
    specs: list[VerifySpec],
    limit: int,
    progress: Callable[[str, int], None] = lambda table, rows: None,
) -> Verification:
    """Check every row of every table; at most ``limit`` keys listed per table."""
    result = Verification(migration, [])
    with connect(url, autocommit=True, application_name="zdmigrate-verify") as conn:
        for spec in specs:
            report = TableVerification(spec.table)
            result.tables.append(report)
            last: list[str] | None = None
            while True:
                params: list[Any] = [*(last or []), CHUNK_ROWS, limit]
                row = conn.execute(spec.chunk_sql(last is None), params).fetchone()
                assert row is not None
                new_last, seen, keys, bad = row
                report.rows_checked += int(seen)
                report.mismatches += int(bad)
                room = limit - len(report.keys)
                report.keys += [_key_label(spec, k) for k in keys[: max(room, 0)]]
                progress(spec.table, report.rows_checked)
                if new_last is None or int(seen) < CHUNK_ROWS:
                    break
                last = list(new_last)
    return result
