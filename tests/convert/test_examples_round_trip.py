"""Each example of migrations_examples/ written as the SQL a person would write
(tests/convert/examples/NAME.sql: plain ALTER/CREATE/DROP statements, what
the same change is without zdmigrate), converted back.

The check: convert gives the example's operations, in order, with the same
fields; SQL fragments are compared as PostgreSQL parses them
(``amount_cents::bigint`` and ``CAST(amount_cents AS bigint)`` are one
expression). Where the two files differ, it is in a value plain SQL does not
say (a ``down``, the ``up`` of a new NOT NULL), and convert marked exactly
that field for review. One operation changes kind on purpose: the example's
raw ``CREATE INDEX`` becomes ``create_index`` (built concurrently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pglast import parse_sql
from pglast.stream import RawStream

from zdmigrate.convert import convert
from zdmigrate.spec import load_migration, parse_migration

EXAMPLES = Path(__file__).parents[2] / "migrations_examples"
SQL = Path(__file__).parent / "examples"
EXPRESSIONS = {"up", "down", "default", "check", "where"}

# (example, operation number): the operation convert writes instead, on purpose
KIND_CHANGES = {("0007_audit_table", 2): "create_index"}
# the fields where convert's file differs from the example: each marked REVIEW
DIFFERENCES = {
    ("0004_orders_amount_bigint", 1, "down"),
    ("0004_orders_amount_bigint", 2, "up"),
    ("0005_users_settings_jsonb", 1, "down"),
}


def _sql(fragment: str, prefix: str) -> str:
    select = parse_sql(prefix + fragment)[0].stmt
    return str(RawStream()(select.targetList[0].val))  # type: ignore[union-attr]


def _normal(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _normal(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v, key) for v in value]
    if isinstance(value, str) and key in EXPRESSIONS:
        return _sql(value, "SELECT ")
    if isinstance(value, str) and key == "type" and value not in ("check", "unique", "foreign_key"):
        return _sql(value, "SELECT NULL::")
    return value


def _differences(name: str, got: Any, want: Any, index: int) -> set[tuple[str, int, str]]:
    a, b = _normal(got.model_dump(by_alias=True)), _normal(want.model_dump(by_alias=True))
    return {(name, index, k) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


# every example but 0008, whose ``up`` plain SQL cannot give (convert asks to fill it in)
ROUND_TRIP = sorted(p for p in EXAMPLES.glob("*.*") if p.stem != "0008_users_email_domain")


@pytest.mark.parametrize("example", ROUND_TRIP, ids=lambda p: p.stem)
def test_example_written_as_sql_converts_back(example: Path) -> None:
    source = SQL / f"{example.stem}.sql"
    assert source.exists(), f"write {source}: the example as plain SQL"
    result = convert(source.read_text(encoding="utf-8"), None, str(source))
    assert not result.fill
    got = parse_migration(result.text, example.stem, "converted").operations
    want = load_migration(example).operations
    assert len(got) == len(want)
    reviewed = {(n.operation, n.field) for n in result.review}
    found: set[tuple[str, int, str]] = set()
    for index, (g, w) in enumerate(zip(got, want, strict=True), 1):
        changed = KIND_CHANGES.get((example.stem, index))
        if changed:
            assert (type(w).__name__, g.op) == ("RawSql", changed)
            continue
        assert g.op == w.op
        found |= _differences(example.stem, g, w, index)
    assert {(i, f) for _, i, f in found} <= reviewed
    assert found == {d for d in DIFFERENCES if d[0] == example.stem}


def test_converted_examples_plan_in_order(tmp_path: Path) -> None:
    """The converted files, planned offline one after the other (validate --deep)."""
    from tests.cli_helpers import zdm

    for source in sorted(SQL.glob("*.sql")):
        out = tmp_path / f"{source.stem}.yaml"
        assert zdm("convert", str(source), "-o", str(out)).exit_code == 0
    files = sorted(str(p) for p in tmp_path.glob("*.yaml"))
    res = zdm("validate", "--deep", *files)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.count(": ok (") == len(files) == len(ROUND_TRIP)
