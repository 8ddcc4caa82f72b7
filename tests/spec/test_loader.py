"""Migration files: what is accepted, and the exact message for what is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from zdmigrate.errors import SpecError
from zdmigrate.spec import load_migration, parse_migration
from zdmigrate.spec.models import AlterColumn, RenameColumn

EXAMPLES = sorted((Path(__file__).parents[2] / "migrations_examples").glob("*.*"))
SCHEMA_HINT = "see docs/migration-files.md, or run 'zdmigrate schema' for the JSON Schema"

BAD = {
    "unknown key": (
        "- add_column:\n    table: users\n    colour: red\n    column: {name: c, type: text}\n",
        "m.yaml:3: operation 1 (add_column), field 'colour': unknown field "
        "(hint: accepted fields: table, column, up)",
    ),
    "unknown nested key": (
        "- add_column:\n    table: t\n    column:\n      name: c\n      type: int\n"
        "      nulable: true\n",
        "m.yaml:6: operation 1 (add_column), field 'column.nulable': unknown field "
        "(hint: accepted fields: name, type, nullable, default, primary_key, unique, check, "
        "references, comment)",
    ),
    "wrong type": (
        "- drop_column:\n    table: [users]\n    column: c\n",
        f"m.yaml:2: operation 1 (drop_column), field 'table': Input should be a valid string "
        f"(hint: {SCHEMA_HINT})",
    ),
    "empty list": (
        "[]\n",
        "m.yaml:1: the migration has no operations (hint: add at least one operation: "
        "docs/migration-files.md lists them)",
    ),
    "empty operations": (
        "description: nothing\noperations: []\n",
        "m.yaml:2: the migration has no operations (hint: add at least one operation: "
        "docs/migration-files.md lists them)",
    ),
    "only comments under operations": (
        "description: nothing\noperations:\n  # - drop_table: {table: t}\n",
        "m.yaml:2: the migration has no operations (hint: add at least one operation: "
        "docs/migration-files.md lists them)",
    ),
    "up does not parse": (
        "- rename_column: {table: t, from: a, to: b}\n- alter_column:\n    table: t\n"
        "    column: a\n    type: bigint\n    up: a + ; 1\n",
        f"m.yaml:6: operation 2 (alter_column), field 'up': syntax error at or near \";\" "
        f"(hint: {SCHEMA_HINT})",
    ),
    "up is two statements": (
        "- alter_column:\n    table: t\n    column: a\n    type: bigint\n    up: a; DROP TABLE t\n",
        f"m.yaml:5: operation 1 (alter_column), field 'up': must be a single SQL expression, "
        f"not several statements (hint: {SCHEMA_HINT})",
    ),
    "check with FROM": (
        "- create_constraint:\n    table: t\n    name: c\n    type: check\n    check: a > 0 FROM t\n",
        f"m.yaml:5: operation 1 (create_constraint), field 'check': must be a single SQL "
        f"expression (no FROM, WHERE, commas or clauses) (hint: {SCHEMA_HINT})",
    ),
    "unknown operation": (
        "- add_colum: {table: t}\n",
        "m.yaml:1: operation 1: unknown operation 'add_colum' (hint: use one of: add_column, "
        "drop_column, rename_column, alter_column, create_index, drop_index, create_table, "
        "drop_table, rename_table, create_constraint, drop_constraint, sql)",
    ),
    "malformed yaml": (
        "- add_column: {table: t\n",
        f"m.yaml:2: not valid YAML or JSON: expected ',' or '}}', but got '<stream end>' "
        f"(hint: {SCHEMA_HINT})",
    ),
    "not a type": (
        "- add_column:\n    table: t\n    column: {name: c, type: not a type}\n",
        f"m.yaml:3: operation 1 (add_column), field 'column.type': 'not a type' is not a "
        f"PostgreSQL type name (hint: {SCHEMA_HINT})",
    ),
    "required column without a value": (
        "- add_column:\n    table: t\n    column: {name: c, type: int, nullable: false}\n",
        f"m.yaml:1: operation 1 (add_column): a NOT NULL column needs a 'default' or an 'up' "
        f"expression to fill existing rows (hint: {SCHEMA_HINT})",
    ),
    "json unknown field": (
        '{"operations": [{"drop_table": {"table": "t", "cascade": true}}]}',
        "m.yaml:1: operation 1 (drop_table), field 'cascade': unknown field "
        "(hint: accepted fields: table)",
    ),
    "a scalar": (
        "hello\n",
        f"m.yaml:1: a migration file must be a list of operations (hint: {SCHEMA_HINT})",
    ),
    "operation with two keys": (
        "- {drop_table: {table: t}, drop_index: {name: i}}\n",
        "m.yaml:1: operation 1: must be a mapping with exactly one key, the operation's name "
        "(hint: for example '- add_column: {table: t, column: {name: c, type: text}}')",
    ),
    "alter that changes nothing": (
        "- alter_column: {table: t, column: c}\n",
        f"m.yaml:1: operation 1 (alter_column): alter_column changes nothing; give type, "
        f"nullable, default, drop_default or name (hint: {SCHEMA_HINT})",
    ),
    "identifier too long": (
        f"- drop_table: {{table: {'x' * 64}}}\n",
        f"m.yaml:1: operation 1 (drop_table), field 'table': is longer than PostgreSQL's "
        f"63-byte identifier limit (hint: {SCHEMA_HINT})",
    ),
    "unknown top-level key": (
        "operations: [{drop_table: {table: t}}]\nauthor: me\n",
        f"m.yaml:2: unknown top-level key 'author' (hint: {SCHEMA_HINT})",
    ),
}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates(example: Path) -> None:
    migration = load_migration(example)
    assert migration.name == example.stem
    assert migration.operations


@pytest.mark.parametrize(("text", "message"), BAD.values(), ids=list(BAD))
def test_bad_files_get_one_exact_line(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_migration(text, "m", "m.yaml")
    assert info.value.one_line() == message
    assert "\n" not in info.value.one_line()


def test_rename_uses_from_and_to() -> None:
    m = parse_migration("- rename_column: {table: t, from: a, to: b}\n", "m", "m.yaml")
    op = m.operations[0]
    assert isinstance(op, RenameColumn)
    assert (op.table, op.from_, op.to) == ("t", "a", "b")


def test_expressions_are_kept_as_written() -> None:
    m = parse_migration(
        '- alter_column: {table: t, column: a, type: jsonb, up: "  a::jsonb ", down: a::text}\n',
        "m",
        "m.yaml",
    )
    op = m.operations[0]
    assert isinstance(op, AlterColumn)
    assert (op.up, op.down, op.type) == ("a::jsonb", "a::text", "jsonb")


def test_hash_changes_with_content() -> None:
    a = parse_migration("- drop_table: {table: t}\n", "m", "m.yaml")
    b = parse_migration("- drop_table: {table: u}\n", "m", "m.yaml")
    assert a.sha256 != b.sha256


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.yaml: no such file"):
        load_migration(tmp_path / "nope.yaml")


def test_wrong_extension_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "m.txt"
    f.write_text("- drop_table: {table: t}\n")
    with pytest.raises(SpecError, match=r"must end in \.yaml, \.yml or \.json"):
        load_migration(f)


def test_a_migration_splits_by_the_schema_of_each_operation() -> None:
    """Qualified tables in their schema, unqualified ones in the file's, in the order the
    file first names the schemas; an sql operation stays with the operation before it."""
    text = (
        "- sql: {up: SELECT 1}\n"
        "- add_column: {table: crm.a, column: {name: x, type: int}}\n"
        "- add_column: {table: b, column: {name: x, type: int}}\n"
        "- sql: {up: SELECT 2}\n"
        "- add_column: {table: crm.c, column: {name: x, type: int}}\n"
    )
    migration = parse_migration(text, "0001_x", "0001_x.yaml")
    assert migration.schema is None
    parts = migration.split("public")
    assert [
        (schema, [part.number(i) for i in range(len(part.operations))]) for schema, part in parts
    ] == [
        ("crm", [1, 2, 5]),
        ("public", [3, 4]),
    ]
    assert [getattr(op, "table", None) for op in parts[0][1].operations] == [None, "a", "c"]
    # every table qualified with one schema: the file's schema, one part
    one = parse_migration("- add_column: {table: crm.a, column: {name: x, type: int}}\n", "m", "m")
    assert one.schema == "crm" and [s for s, _ in one.split("public")] == ["crm"]


def test_content_hash_ignores_comments_layout_and_description() -> None:
    a = parse_migration("- drop_table: {table: t}\n", "m", "m.yaml")
    b = parse_migration(
        "# why\ndescription: gone\noperations:\n  - drop_table:\n      table: t\n", "m", "m.yaml"
    )
    c = parse_migration('{"operations": [{"drop_table": {"table": "t"}}]}', "m", "m.json")
    assert a.sha256 != b.sha256
    assert a.content_hash == b.content_hash == c.content_hash


def test_content_hash_sees_schema_and_values() -> None:
    a = parse_migration("- drop_table: {table: t}\n", "m", "m.yaml")
    qualified = parse_migration("- drop_table: {table: s.t}\n", "m", "m.yaml")
    declared = parse_migration("schema: s\noperations: [{drop_table: {table: t}}]\n", "m", "m.yaml")
    other = parse_migration("- drop_table: {table: u}\n", "m", "m.yaml")
    assert qualified.content_hash == declared.content_hash != a.content_hash
    assert other.content_hash != a.content_hash
