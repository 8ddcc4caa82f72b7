"""SQL statements and the migration file 'zdmigrate convert' writes for them.

The cases are data (sql_cases.yaml): the SQL, the operations as written
(comments included), the fields left to fill in and the lint codes on what
stays raw SQL. Every result passes 'zdmigrate validate', unless it has
fields to fill in, and then validation names the first of them.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from zdmigrate.convert import convert
from zdmigrate.errors import SpecError
from zdmigrate.spec import parse_migration

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "sql_cases.yaml").read_text(encoding="utf-8")
)


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[c["sql"].splitlines()[-2 if "COMMIT" in c["sql"] else 0][:60] for c in CASES],
)
def test_statement_becomes_these_operations(case: dict[str, Any]) -> None:
    result = convert(case["sql"], "sql", "case.sql")
    body = textwrap.dedent(result.text.split("operations:\n", 1)[1])
    assert body == case["expected"]
    assert [n.field for n in result.fill] == case.get("fill", [])
    assert [f["code"] for f in result.findings] == case.get("lint", [])
    assert len(result.skipped) == case.get("skipped", 0)
    if result.fill:
        with pytest.raises(SpecError) as exc:
            parse_migration(result.text, "converted", "converted.yaml")
        assert result.fill[0].kind in exc.value.message
    else:
        parse_migration(result.text, "converted", "converted.yaml")


def test_the_file_says_where_it_came_from_and_what_was_left_out() -> None:
    sql = "BEGIN;\nSET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN age;\nCOMMIT;\n"
    text = convert(sql, "sql", "0042_drop_age.sql").text
    assert text.splitlines()[0] == "# Written by 'zdmigrate convert' from 0042_drop_age.sql (sql)."
    assert "# left out line 2: SET lock_timeout = '2s' (zdmigrate sets lock_timeout" in text


def test_a_syntax_error_is_refused_with_its_line() -> None:
    with pytest.raises(SpecError) as exc:
        convert(
            "ALTER TABLE users DROP COLUMN age;\nALTER TABLE users ADD COLUM x int;\n",
            "sql",
            "bad.sql",
        )
    assert exc.value.message.startswith("bad.sql:2: syntax error")


def test_sql_that_changes_no_schema_is_refused() -> None:
    with pytest.raises(SpecError) as exc:
        convert("BEGIN;\nCOMMIT;\n", "sql", "empty.sql")
    assert "nothing to convert" in exc.value.message
