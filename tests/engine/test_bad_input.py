"""Bad input to apply (issue 3, test set 5).

Each mistake a user can make ends with exit code 2, exactly one ``error: ``
line on stderr that names what is wrong and where, and the catalog as it was
before the command (compared by snapshot).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.catalog import diff
from tests.cli_helpers import Result
from tests.engine.conftest import Migrator, snapshot_of

SCHEMA = """
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    age integer
);
INSERT INTO users SELECT g, 'u' || g || '@ex.com', g % 2 = 0, g % 90
  FROM generate_series(1, 300) g;
CREATE TABLE events (
    a integer CONSTRAINT events_a_key UNIQUE,
    payload text
);
INSERT INTO events SELECT g, 'p' || g FROM generate_series(1, 300) g;
"""


def _error_line(res: Result) -> str:
    """The one ``error: `` line, which must end stderr; no traceback."""
    assert res.exit_code == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, res.stderr
    assert lines[-1] == errors[0], res.stderr
    assert "Traceback" not in res.stderr
    return errors[0]


@pytest.fixture
def ready(migrator: Migrator) -> Migrator:
    """The schema with a few hundred rows, and zdmigrate's state schema installed."""
    with psycopg.connect(migrator.url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    assert migrator.run("init").exit_code == 0
    return migrator


def _refused(m: Migrator, path: Path) -> str:
    """Apply ``path``: it must fail cleanly and leave the catalog as it was."""
    before = snapshot_of(m.url)
    line = _error_line(m.run("apply", str(path)))
    assert diff(snapshot_of(m.url), before) == []
    return line


def _one_line_only(m: Migrator, path: Path) -> str:
    """Refused before anything ran: the error line is all there is on stderr."""
    before = snapshot_of(m.url)
    res = m.run("apply", str(path))
    line = _error_line(res)
    assert res.stderr.strip().splitlines() == [line]
    assert diff(snapshot_of(m.url), before) == []
    return line


BAD: list[tuple[str, list[dict[str, Any]], list[str]]] = [
    (
        "missing_table",
        [{"add_column": {"table": "nosuch", "column": {"name": "x", "type": "text"}}}],
        ["operation 1 (add_column)", "table 'nosuch' does not exist"],
    ),
    (
        "missing_column",
        [
            {"add_column": {"table": "users", "column": {"name": "x", "type": "text"}}},
            {"rename_column": {"table": "users", "from": "nosuch", "to": "other"}},
        ],
        ["operation 2 (rename_column)", "column 'nosuch' does not exist in table 'users'"],
    ),
    (
        "type_does_not_cast",
        [{"alter_column": {"table": "users", "column": "active", "type": "date"}}],
        [
            "operation 1 (alter_column), field 'type' (no 'up' given, so the value is cast)",
            "cannot cast type boolean to date",
        ],
    ),
    (
        "up_names_missing_column",
        [
            {
                "add_column": {
                    "table": "users",
                    "column": {"name": "older", "type": "integer"},
                    "up": "years + 1",
                }
            }
        ],
        ["operation 1 (add_column), field 'up'", 'column "years" does not exist'],
    ),
    (
        "change_new_table",
        [
            {
                "create_table": {
                    "table": "tags",
                    "columns": [
                        {"name": "id", "type": "bigint", "primary_key": True},
                        {"name": "label", "type": "text"},
                    ],
                }
            },
            {"create_index": {"name": "tags_label_idx", "table": "tags", "columns": ["label"]}},
            {
                "create_constraint": {
                    "table": "tags",
                    "name": "tags_label_check",
                    "type": "check",
                    "check": "label <> ''",
                }
            },
        ],
        ["operation 3 (create_constraint)", "table 'tags' is created by an earlier operation"],
    ),
    (
        "no_usable_key",
        [
            {
                "add_column": {
                    "table": "events",
                    "column": {"name": "size", "type": "integer"},
                    "up": "length(payload)",
                }
            }
        ],
        ["table 'events' has no primary key or unique NOT NULL key"],
    ),
]


@pytest.mark.parametrize(("name", "ops", "says"), BAD, ids=[b[0] for b in BAD])
def test_refused_before_anything_runs(
    ready: Migrator, name: str, ops: list[dict[str, Any]], says: list[str]
) -> None:
    path = ready.write(f"0001_{name}", ops)
    line = _one_line_only(ready, path)
    assert f"0001_{name}" in line  # where: the migration
    for part in says:  # what
        assert part in line


def test_up_failing_on_one_row_names_its_key(ready: Migrator) -> None:
    path = ready.write(
        "0001_ratio",
        [
            {"rename_column": {"table": "users", "from": "email", "to": "mail"}},
            {
                "add_column": {
                    "table": "users",
                    "column": {"name": "ratio", "type": "integer"},
                    "up": "1000 / (id % 150)",  # zero for 150 and 300
                }
            },
        ],
    )
    line = _refused(ready, path)
    assert "0001_ratio" in line
    assert "backfill of users" in line
    assert "(id)=(150)" in line
    assert "division by zero" in line
    with psycopg.connect(ready.url, autocommit=True) as conn:
        schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")]
        assert "public_0001_ratio" not in schemas


def test_up_filling_a_unique_column_with_duplicates(ready: Migrator) -> None:
    path = ready.write(
        "0001_domain",
        [
            {
                "add_column": {
                    "table": "users",
                    "column": {"name": "domain", "type": "text", "unique": True},
                    "up": "split_part(email, '@', 2)",
                }
            }
        ],
    )
    line = _refused(ready, path)
    assert "0001_domain: backfill of users failed" in line
    assert 'unique constraint "users_domain_key"' in line
    assert "Key (domain)=(ex.com) already exists." in line


VIOLATED: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "unique",
        {"table": "users", "name": "users_age_key", "type": "unique", "columns": ["age"]},
        ['could not create unique index "users_age_key"', "Key (age)=("],
    ),
    (
        "check",
        {"table": "users", "name": "users_age_small", "type": "check", "check": "age < 80"},
        ['check constraint "users_age_small" of relation "users" is violated by some row'],
    ),
    (
        "foreign_key",
        {
            "table": "users",
            "name": "users_age_fkey",
            "type": "foreign_key",
            "columns": ["age"],
            "references": {"table": "users", "columns": ["id"]},
        },
        ['violates foreign key constraint "users_age_fkey"', "Key (age)=(0) is not present"],
    ),
]


@pytest.mark.parametrize(("kind", "constraint", "says"), VIOLATED, ids=[v[0] for v in VIOLATED])
def test_existing_rows_violate_the_new_constraint(
    ready: Migrator, kind: str, constraint: dict[str, Any], says: list[str]
) -> None:
    path = ready.write(f"0001_{kind}", [{"create_constraint": constraint}])
    line = _refused(ready, path)
    assert f"0001_{kind}" in line
    for part in says:
        assert part in line


def test_file_edited_after_apply(ready: Migrator) -> None:
    ops: list[dict[str, Any]] = [
        {"alter_column": {"table": "users", "column": "age", "type": "bigint"}}
    ]
    path = ready.write("0001_age", ops)
    ready.apply(path)
    ops[0]["alter_column"]["type"] = "numeric"
    path.write_text(json.dumps({"operations": ops}))
    line = _one_line_only(ready, path)
    assert str(path) in line
    assert "changed after it was applied" in line


def test_second_process_on_the_same_migration(ready: Migrator) -> None:
    path = ready.write(
        "0001_busy", [{"alter_column": {"table": "users", "column": "age", "type": "bigint"}}]
    )
    with psycopg.connect(ready.url, autocommit=True) as holder:
        holder.execute(
            "SELECT pg_advisory_lock(hashtextextended('zdmigrate:' || %s, 0))", ("0001_busy",)
        )
        line = _one_line_only(ready, path)
    assert "migration '0001_busy' is being run by another zdmigrate process" in line


def test_contract_the_database_refuses_leaves_the_migration_expanded(ready: Migrator) -> None:
    """complete cannot drop a column an app's own view still uses: nothing is contracted,
    both versions keep working, and rollback is still possible."""
    with psycopg.connect(ready.url, autocommit=True) as conn:
        conn.execute("CREATE VIEW user_ages AS SELECT id, age FROM users")
    original = snapshot_of(ready.url)
    path = ready.write("0001_no_age", [{"drop_column": {"table": "users", "column": "age"}}])
    res = ready.run("apply", str(path))
    if res.exit_code != 0:  # refused up front: just as good
        _error_line(res)
        assert diff(snapshot_of(ready.url), original) == []
        return
    expanded = snapshot_of(ready.url)
    line = _error_line(ready.run("complete", "0001_no_age"))
    assert "0001_no_age" in line and "column age of table users" in line
    assert diff(snapshot_of(ready.url), expanded) == []
    status = json.loads(ready.run("status", "--format", "json").stdout)
    assert [(s["name"], s["phase"]) for s in status] == [("0001_no_age", "expanded")]
    ready.rollback("0001_no_age")
    assert diff(snapshot_of(ready.url), original) == []
