"""Snapshot files: the schema model of a database, kept in the repository as JSON.

``zdmigrate snapshot -o schema.json`` writes one; ``--schema-file`` reads it back,
or a ``pg_dump --schema-only`` file, so plan and lint need no database.

A snapshot is ``{"zdmigrate_snapshot": 1, "taken_at": ISO time, "schemas":
{name: catalog_to_json(...)}}``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zdmigrate.errors import ConfigError, SpecError
from zdmigrate.model.dump import parse_dump
from zdmigrate.model.schema import Catalog, catalog_from_json, catalog_to_json

__all__ = [
    "SNAPSHOT_KEY",
    "SNAPSHOT_VERSION",
    "load_schema_file",
    "read_snapshot",
    "write_snapshot",
]

SNAPSHOT_KEY = "zdmigrate_snapshot"
SNAPSHOT_VERSION = 1

_DUMP_IT = "pg_dump --schema-only -f schema.sql DBNAME"
_SNAP_IT = "zdmigrate snapshot -o schema.json"
_MAKE_ONE = f"{_DUMP_IT}, or {_SNAP_IT}"
_TAKE_AGAIN = "take it again with: zdmigrate snapshot -o FILE"


def write_snapshot(catalogs: list[Catalog], path: str) -> None:
    """Write the schema models ``catalogs`` (one a schema) to ``path``."""
    data = {
        SNAPSHOT_KEY: SNAPSHOT_VERSION,
        "taken_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "schemas": {cat.schema: catalog_to_json(cat) for cat in catalogs},
    }
    try:
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the snapshot {path}: {exc.strerror or exc}",
            "give a writable path with -o/--output",
        ) from None


def read_snapshot(text: str, schema: str, path: str) -> Catalog:
    """The schema ``schema`` of the snapshot ``text`` (read from ``path``)."""
    data = _snapshot_json(text, path)
    schemas = data.get("schemas")
    if not isinstance(schemas, dict):
        raise SpecError(f"{path}: the snapshot has no 'schemas' object", _TAKE_AGAIN, path=path)
    if schema not in schemas:
        has = ", ".join(sorted(schemas)) or "none"
        raise SpecError(
            f"{path} has no schema '{schema}' (it has: {has})",
            f"use one of those (setting 'schema'), or take the snapshot again with: "
            f"zdmigrate snapshot --schema {schema} -o {path}",
            path=path,
        )
    try:
        cat = catalog_from_json(schemas[schema])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise SpecError(
            f"{path}: schema '{schema}' of the snapshot is malformed ({type(exc).__name__}: {exc})",
            _TAKE_AGAIN,
            path=path,
        ) from None
    cat.schema, cat.source = schema, "snapshot"
    return cat


def _snapshot_json(text: str, path: str) -> dict[str, Any]:
    """The top object of a snapshot, its version checked."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg})",
            _TAKE_AGAIN,
            path=path,
            line=exc.lineno,
        ) from None
    if not isinstance(data, dict) or SNAPSHOT_KEY not in data:
        raise SpecError(
            f"{path} is JSON but not a zdmigrate snapshot (no '{SNAPSHOT_KEY}' key)",
            f"give a file written by {_SNAP_IT}, or the output of {_DUMP_IT}",
            path=path,
        )
    version = data[SNAPSHOT_KEY]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SpecError(
            f"{path}: snapshot version {version!r} is not valid", _TAKE_AGAIN, path=path
        )
    if version > SNAPSHOT_VERSION:
        raise SpecError(
            f"{path} is a version {version} snapshot; this zdmigrate reads version "
            f"{SNAPSHOT_VERSION} only",
            "upgrade zdmigrate (pip install -U zdmigrate)",
            path=path,
        )
    return data


def load_schema_file(path: str, schema: str) -> Catalog:
    """The schema ``schema`` from ``path``: a snapshot (JSON) or ``pg_dump --schema-only``
    output (SQL)."""
    text = _read_text(path)
    if text.lstrip().startswith("{"):
        return read_snapshot(text, schema, path)
    return parse_dump(text, schema, path)


def _read_text(path: str) -> str:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"schema file {path} does not exist", f"write one: {_MAKE_ONE}") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read the schema file {path}: {exc.strerror or exc}",
            f"give a readable file: {_MAKE_ONE}",
        ) from None
    if raw.startswith(b"PGDMP"):
        raise SpecError(
            f"{path} is a pg_dump archive (custom format), not SQL",
            f"convert it: pg_restore --schema-only -f schema.sql {path}",
            path=path,
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"{path} is not UTF-8 text (byte {exc.start})",
            f"give a snapshot or a plain SQL dump: {_MAKE_ONE}",
            path=path,
        ) from None
