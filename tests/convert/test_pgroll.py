"""pgroll migration files (JSON and YAML, shaped like pgroll's own examples) converted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from zdmigrate.convert import convert
from zdmigrate.errors import SpecError
from zdmigrate.spec import parse_migration

CREATE_TABLES = {
    "name": "01_create_tables",
    "operations": [
        {
            "create_table": {
                "name": "customers",
                "columns": [
                    {"name": "id", "type": "integer", "pk": True},
                    {"name": "name", "type": "varchar(255)", "unique": True},
                    {"name": "credit_card", "type": "text", "nullable": True},
                ],
            }
        },
        {
            "create_table": {
                "name": "bills",
                "columns": [
                    {"name": "id", "type": "integer", "pk": True},
                    {"name": "date", "type": "time"},
                    {
                        "name": "customer_id",
                        "type": "integer",
                        "references": {
                            "name": "fk_customer",
                            "table": "customers",
                            "column": "id",
                            "on_delete": "CASCADE",
                        },
                    },
                    {
                        "name": "amount",
                        "type": "integer",
                        "check": {"name": "amount_positive", "constraint": "amount > 0"},
                    },
                ],
                "constraints": [
                    {"name": "bills_date_unique", "type": "unique", "columns": ["date", "id"]}
                ],
            }
        },
    ],
}

CHANGES_YAML = """\
name: 18_change_column_type
operations:
  - alter_column:
      table: reviews
      column: rating
      type: integer
      up: CAST(rating AS integer)
      down: CAST(rating AS text)
  - alter_column:
      table: reviews
      column: review
      nullable: false
      up: SELECT CASE WHEN review IS NULL THEN product || ' is good' ELSE review END
      down: review
  - alter_column:
      table: reviews
      column: product
      name: product_name
  - alter_column:
      table: reviews
      column: username
      unique:
        name: reviews_username_unique
      up: username
      down: username
  - add_column:
      table: reviews
      up: "'unrated'"
      column: {name: verdict, type: text, nullable: false}
  - create_index:
      name: idx_reviews_partial
      table: reviews
      columns: [rating]
      predicate: rating > 3
  - rename_column: {table: reviews, from: username, to: author}
  - drop_column: {table: reviews, column: legacy}
  - drop_index: {name: idx_old}
  - rename_table: {from: reviews, to: product_reviews}
  - sql:
      up: CREATE EXTENSION IF NOT EXISTS pg_trgm
      down: DROP EXTENSION IF EXISTS pg_trgm
  - drop_table: {name: legacy_reviews}
"""


def _ops(text: str) -> list[tuple[str, dict[str, Any]]]:
    result = convert(text, None, "pgroll.json" if text.startswith("{") else "pgroll.yaml")
    migration = parse_migration(result.text, "converted", "converted")
    return [
        (op.op, op.model_dump(by_alias=True, exclude_defaults=True)) for op in migration.operations
    ]


def test_create_tables_from_json() -> None:
    ops = _ops(json.dumps(CREATE_TABLES, indent=2))
    assert ops[0] == (
        "create_table",
        {
            "table": "customers",
            "columns": [
                {"name": "id", "type": "integer", "primary_key": True},
                {"name": "name", "type": "varchar(255)", "nullable": False, "unique": True},
                {"name": "credit_card", "type": "text"},
            ],
        },
    )
    bills = ops[1][1]["columns"]
    assert bills[2]["references"] == {
        "table": "customers",
        "columns": ["id"],
        "on_delete": "cascade",
    }
    assert bills[3]["check"] == "amount > 0"
    assert ops[2] == (
        "create_constraint",
        {
            "table": "bills",
            "name": "bills_date_unique",
            "type": "unique",
            "columns": ["date", "id"],
        },
    )
    assert len(ops) == 3


def test_names_pgroll_keeps_and_a_file_cannot_are_marked_for_review() -> None:
    result = convert(json.dumps(CREATE_TABLES), "pgroll", "01.json")
    assert (
        "# REVIEW: pgroll makes a column without 'nullable' NOT NULL; kept so for name"
        in result.text
    )
    assert "the foreign key's name 'fk_customer' is not kept" in result.text
    assert (
        result.text.count("\ndescription: Converted from the pgroll migration 01_create_tables.")
        == 1
    )


def test_every_operation_kind_from_yaml() -> None:
    ops = _ops(CHANGES_YAML)
    assert [op for op, _ in ops] == [
        "alter_column",
        "alter_column",
        "alter_column",
        "create_constraint",
        "add_column",
        "create_index",
        "rename_column",
        "drop_column",
        "drop_index",
        "rename_table",
        "sql",
        "drop_table",
    ]
    assert ops[0][1] == {
        "table": "reviews",
        "column": "rating",
        "type": "integer",
        "up": "CAST(rating AS integer)",
        "down": "CAST(rating AS text)",
    }
    # pgroll's "SELECT expr" form becomes the expression
    assert ops[1][1]["up"] == "CASE WHEN review IS NULL THEN product || ' is good' ELSE review END"
    assert ops[2][1] == {"table": "reviews", "column": "product", "name": "product_name"}
    assert ops[3][1] == {
        "table": "reviews",
        "name": "reviews_username_unique",
        "type": "unique",
        "columns": ["username"],
    }
    assert ops[4][1]["up"] == "'unrated'"
    assert ops[5][1]["where"] == "rating > 3"
    assert ops[6][1] == {"table": "reviews", "from": "username", "to": "author"}
    assert ops[11][1] == {"table": "legacy_reviews"}


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (
            {"set_replica_identity": {"table": "fruits", "identity": {"type": "full"}}},
            "operation 2 (set_replica_identity): a pgroll 'set_replica_identity' has no equivalent",
        ),
        (
            {"rename_constraint": {"table": "t", "from": "a", "to": "b"}},
            "operation 2 (rename_constraint): a pgroll 'rename_constraint' has no equivalent",
        ),
        (
            {"alter_column": {"table": "t", "column": "c", "comment": "x", "up": "c", "down": "c"}},
            "operation 2 (alter_column), field 'comment' has no equivalent",
        ),
        (
            {
                "create_index": {
                    "name": "i",
                    "table": "t",
                    "columns": [{"name": "c", "sort": "DESC"}],
                }
            },
            "operation 2 (create_index), field 'columns.c' sort orders",
        ),
        (
            {"create_table": {"columns": [{"name": "id", "type": "int"}]}},
            "operation 2 (create_table): field 'name' is missing",
        ),
        (
            {"drop_index": "idx"},
            "operation 2 (drop_index): a field has the wrong kind of value",
        ),
        (
            {"sql": {"up": "SELECT 1", "onComplete": True}},
            "operation 2 (sql), field 'onComplete' (SQL run at complete) has no equivalent",
        ),
    ],
)
def test_an_operation_without_equivalent_is_refused_by_name(
    operation: dict[str, Any], message: str
) -> None:
    text = json.dumps({"operations": [{"drop_table": {"name": "x"}}, operation]})
    with pytest.raises(SpecError) as exc:
        convert(text, "pgroll", "05.json")
    assert exc.value.message.startswith(f"05.json: {message}")


def test_not_a_pgroll_file_is_refused() -> None:
    with pytest.raises(SpecError) as exc:
        convert("- rename_column: {table: a, from: b, to: c}\n", "pgroll", "x.yaml")
    assert exc.value.message == "x.yaml: not a pgroll migration: no 'operations' list"
