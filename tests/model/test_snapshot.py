"""model/snapshot.py: snapshot files written and read back; schema files of either kind."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.model.test_dump import DUMP
from zdmigrate.errors import ConfigError, SpecError
from zdmigrate.model.dump import parse_dump
from zdmigrate.model.schema import Catalog, catalog_to_json
from zdmigrate.model.snapshot import load_schema_file, read_snapshot, write_snapshot


def live_like(schema: str) -> Catalog:
    """A catalog as introspection gives it: with row estimates and sizes."""
    cat = parse_dump(DUMP, schema)
    cat.source = "database"
    for n, table in enumerate(cat.tables.values()):
        table.row_estimate, table.size_bytes = 1000 * n, 8192 * (n + 1)
    return cat


def without_source(cat: Catalog) -> dict[str, object]:
    data = catalog_to_json(cat)
    del data["source"]
    return data


def test_round_trip(tmp_path: Path) -> None:
    public, billing = live_like("public"), live_like("billing")
    path = str(tmp_path / "schema.json")
    write_snapshot([public, billing], path)

    data = json.loads(Path(path).read_text())
    assert data["zdmigrate_snapshot"] == 1
    assert datetime.fromisoformat(data["taken_at"]).tzinfo is not None
    assert sorted(data["schemas"]) == ["billing", "public"]

    text = Path(path).read_text()
    for cat in (public, billing):
        back = read_snapshot(text, cat.schema, path)
        assert back.source == "snapshot"
        assert without_source(back) == without_source(cat)
        assert back.tables == cat.tables  # row estimates and sizes kept
    assert load_schema_file(path, "public").tables == public.tables


def test_a_newer_snapshot_asks_for_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"zdmigrate_snapshot": 2, "taken_at": "x", "schemas": {}}))
    with pytest.raises(SpecError) as err:
        load_schema_file(str(path), "public")
    assert err.value.one_line() == (
        f"{path} is a version 2 snapshot; this zdmigrate reads version 1 only "
        "(hint: upgrade zdmigrate (pip install -U zdmigrate))"
    )


def test_a_schema_not_in_the_snapshot(tmp_path: Path) -> None:
    path = str(tmp_path / "schema.json")
    write_snapshot([live_like("public"), live_like("billing")], path)
    with pytest.raises(SpecError) as err:
        load_schema_file(path, "app")
    assert err.value.one_line() == (
        f"{path} has no schema 'app' (it has: billing, public) "
        "(hint: use one of those (setting 'schema'), or take the snapshot again with: "
        f"zdmigrate snapshot --schema app -o {path})"
    )


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as err:
        load_schema_file(str(path), "public")
    assert err.value.one_line() == (
        f"schema file {path} does not exist (hint: write one: pg_dump --schema-only "
        "-f schema.sql DBNAME, or zdmigrate snapshot -o schema.json)"
    )


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_schema_file(str(tmp_path), "public")  # a directory
    assert err.value.message.startswith(f"cannot read the schema file {tmp_path}: ")


def test_an_unwritable_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir.json"
    with pytest.raises(ConfigError) as err:
        write_snapshot([live_like("public")], str(path))
    assert err.value.one_line() == (
        f"cannot write the snapshot {path}: No such file or directory "
        "(hint: give a writable path with -o/--output)"
    )


def test_a_sql_file_is_read_as_a_dump(tmp_path: Path) -> None:
    path = tmp_path / "schema.sql"
    path.write_text(DUMP)
    cat = load_schema_file(str(path), "public")
    assert cat.source == "dump"
    assert without_source(cat) == without_source(parse_dump(DUMP, "public"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"schemas": {}}',
            "{path} is JSON but not a zdmigrate snapshot (no 'zdmigrate_snapshot' key)",
        ),
        ('{"zdmigrate_snapshot": 1,\n "schemas": [}', "{path}:2: not valid JSON (Expecting value)"),
        ('{"zdmigrate_snapshot": "1"}', "{path}: snapshot version '1' is not valid"),
        (
            '{"zdmigrate_snapshot": 1, "schemas": {"public": {"tables": {"t": {}}}}}',
            "{path}: schema 'public' of the snapshot is malformed (KeyError: 'columns')",
        ),
    ],
    ids=["no-key", "bad-json", "bad-version", "malformed"],
)
def test_files_that_are_no_snapshot(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "schema.json"
    path.write_text(content)
    with pytest.raises(SpecError) as err:
        load_schema_file(str(path), "public")
    assert err.value.message == message.format(path=path)


def test_a_custom_format_dump_file(tmp_path: Path) -> None:
    path = tmp_path / "db.dump"
    path.write_bytes(b"PGDMP\x01\x0e\x00\x04\x08\xff\xfe")
    with pytest.raises(SpecError) as err:
        load_schema_file(str(path), "public")
    assert err.value.hint == f"convert it: pg_restore --schema-only -f schema.sql {path}"
