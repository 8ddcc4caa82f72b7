"""Load migration files (YAML or JSON) into validated operations.

Errors name the file, the operation's index and field, and the line where the
YAML gives one: ``m.yaml:12: operation 2 (alter_column), field 'up': ...``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from zdmigrate.errors import SpecError
from zdmigrate.spec.models import OPERATION_MODELS, Operation, RawSql

__all__ = ["Migration", "content_hash", "load_migration", "parse_migration"]

_HINT = "see docs/migration-files.md, or run 'zdmigrate schema' for the JSON Schema"
Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Migration:
    """A loaded migration file: its name (the file's stem), operations and hashes.

    ``sha256`` is the hash of the file's bytes; ``content_hash`` the migration's identity:
    the hash of what it does (its schema and operations as parsed), so a comment, a
    description or a reformatting does not change it.
    """

    name: str
    path: str
    operations: tuple[Operation, ...]
    sha256: str
    description: str | None = None
    source_text: str = ""
    # the schema of its unqualified tables (the file's ``schema:``); None: the settings'
    schema: str | None = None
    # per operation, the schema its table is qualified with (``table: billing.users``)
    op_schemas: tuple[str | None, ...] = ()
    # per operation, its number in the file (a part of a migration keeps them)
    numbers: tuple[int, ...] = ()
    content_hash: str = ""

    def number(self, index: int) -> int:
        """The 1-based number in the file of operation ``index``."""
        return self.numbers[index] if self.numbers else index + 1

    def split(self, default: str) -> list[tuple[str, Migration]]:
        """The migration per schema it changes, in the order the file first names them:
        a qualified table's operation in its schema, an unqualified one in the file's
        (``default``: the settings'). An ``sql`` operation stays with the operation
        before it (the first after it when it comes first). One schema: ``self``."""
        home = self.schema or default
        own = list(self.op_schemas) or [None] * len(self.operations)
        schemas: list[str | None] = [
            None if _is_raw(op) else (s or home) for op, s in zip(self.operations, own, strict=True)
        ]
        for i in range(len(schemas)):  # raw SQL goes with the operation before it
            if schemas[i] is None and i > 0:
                schemas[i] = schemas[i - 1]
        following = next((s for s in schemas if s is not None), home)
        resolved = [s or following for s in schemas]
        order = list(dict.fromkeys(resolved))
        if len(order) == 1:
            return [(order[0], self)]
        return [(schema, self._part(schema, resolved)) for schema in order]

    def _part(self, schema: str, resolved: list[str]) -> Migration:
        picked = [i for i, s in enumerate(resolved) if s == schema]
        return replace(
            self,
            operations=tuple(self.operations[i] for i in picked),
            schema=schema,
            op_schemas=(),
            numbers=tuple(self.number(i) for i in picked),
        )


def _is_raw(op: Operation) -> bool:
    return isinstance(op, RawSql)


def content_hash(
    schema: str | None,
    operations: tuple[Operation, ...],
    op_schemas: tuple[str | None, ...] = (),
) -> str:
    """The identity of a migration: SHA-256 of its schema and operations, parsed, each
    operation with the schema its table is in (``table: billing.users`` and ``schema:
    billing`` with ``table: users`` are the same migration).

    Fields left at their default are left out, so writing a default explicitly (or a
    zdmigrate that adds an optional field) does not change it.
    """
    own = list(op_schemas) or [None] * len(operations)
    ops = []
    for op, qualified in zip(operations, own, strict=True):
        fields = op.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        if qualified or schema:
            fields["schema"] = qualified or schema
        ops.append({type(op).model_fields["op"].default: fields})
    text = json.dumps({"schema": schema, "operations": ops}, sort_keys=True)
    return "content:" + hashlib.sha256(text.encode()).hexdigest()


class _Lines:
    """Line numbers (1-based) of every node, keyed by its path in the document."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.lines: dict[Path_, int] = {}
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: Path_) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, key.value)
                self._walk(value, sub)
                self.lines[sub] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i))

    def find(self, path: Path_) -> int | None:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def _fail(where: str, line: int | None, message: str, hint: str = _HINT) -> SpecError:
    loc = f"{where}:{line}" if line else where
    return SpecError(f"{loc}: {message}", hint, path=where, line=line)


def _load_document(text: str, where: str) -> tuple[Any, _Lines]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise _fail(where, line, f"not valid YAML or JSON: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise _fail(where, None, f"not valid YAML or JSON: {exc}") from None
    return data, _Lines(root)


def _schema_key(data: Any, where: str, lines: _Lines) -> str | None:
    if not isinstance(data, dict) or "schema" not in data:
        return None
    schema = data["schema"]
    if not isinstance(schema, str) or not schema or len(schema.encode()) > 63:
        raise _fail(
            where,
            lines.find(("schema",)),
            "'schema' must be a schema name (1 to 63 bytes)",
            "for example 'schema: billing'; leave it out to use [tool.zdmigrate] schema",
        )
    return schema


def _operations_list(data: Any, where: str, lines: _Lines) -> tuple[list[Any], Path_, str | None]:
    if isinstance(data, list):
        return data, (), None
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"operations", "description", "schema"})
        if unknown:
            raise _fail(where, lines.find((unknown[0],)), f"unknown top-level key '{unknown[0]}'")
        ops = data.get("operations")
        if ops is None and "operations" in data:  # 'operations:' with only comments under it
            ops = []
        desc = data.get("description")
        if desc is not None and not isinstance(desc, str):
            raise _fail(where, lines.find(("description",)), "'description' must be a string")
        if not isinstance(ops, list):
            raise _fail(where, lines.find(("operations",)), "'operations' must be a list")
        return ops, ("operations",), desc
    raise _fail(where, lines.find(()), "a migration file must be a list of operations")


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _parse_operation(item: Any, index: int, base: Path_, where: str, lines: _Lines) -> Operation:
    path = (*base, index)
    label = f"operation {index + 1}"
    if not isinstance(item, dict) or len(item) != 1:
        raise _fail(
            where,
            lines.find(path),
            f"{label}: must be a mapping with exactly one key, the operation's name",
            "for example '- add_column: {table: t, column: {name: c, type: text}}'",
        )
    ((kind, body),) = item.items()
    model = OPERATION_MODELS.get(kind)
    if model is None:
        known = ", ".join(OPERATION_MODELS)
        raise _fail(
            where,
            lines.find((*path, kind)),
            f"{label}: unknown operation '{kind}'",
            f"use one of: {known}",
        )
    if not isinstance(body, dict):
        raise _fail(
            where, lines.find((*path, kind)), f"{label} ({kind}): must be a mapping of fields"
        )
    try:
        return model.model_validate(body)  # type: ignore[return-value]
    except ValidationError as exc:
        # A misspelt key shows as "unknown field" and "Field required": name the typo.
        err = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        loc = tuple(err["loc"])
        line = lines.find((*path, kind, *loc))
        field = _field_path(loc)
        msg = err["msg"].removeprefix("Value error, ")
        hint = _HINT
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
            hint = "accepted fields: " + ", ".join(_fields_at(model, loc[:-1]))
        what = f", field '{field}'" if field else ""
        raise _fail(where, line, f"{label} ({kind}){what}: {msg}", hint) from None


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The accepted field names of the (nested) model at ``loc``."""
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        nested = _nested_model(info.annotation) if info else None
        if nested is None:
            break
        model = nested
    return [f.alias or name for name, f in model.model_fields.items() if name != "op"]


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


# the fields that name what an operation changes, and may be written schema.name
_QUALIFIABLE = ("table", "from", "to")


def _qualified_schemas(
    ops: list[Any], base: Path_, where: str, lines: _Lines
) -> tuple[str | None, ...]:
    """Strip ``schema.`` from the tables the operations name (in place) and return each
    operation's schema (None: not qualified). One operation names one schema."""
    found: list[str | None] = []
    for index, item in enumerate(ops):
        schema_of: str | None = None
        if isinstance(item, dict) and len(item) == 1:
            ((kind, body),) = item.items()
            keys = ("name",) if kind == "drop_index" else _QUALIFIABLE
            for key in keys if isinstance(body, dict) else ():
                value = body.get(key)
                if not isinstance(value, str) or value.count(".") != 1:
                    continue
                schema, bare = value.split(".")
                if not schema or not bare:
                    continue
                if schema_of is not None and schema != schema_of:
                    raise _fail(
                        where,
                        lines.find((*base, index, kind, key)),
                        f"operation {index + 1} ({kind}): '{value}' is in schema '{schema}', "
                        f"but the operation's table is in '{schema_of}'",
                        "an operation changes a table within its own schema",
                    )
                body[key] = bare
                schema_of = schema
        found.append(schema_of)
    return tuple(found)


def _file_schema(
    declared: str | None, ops: list[Any], qualified: tuple[str | None, ...]
) -> str | None:
    """The schema of the file's unqualified tables: ``schema:``, else the one schema every
    operation that names a table is qualified with (so such a file plans as before)."""
    if declared is not None:
        return declared
    named = {
        s
        for item, s in zip(ops, qualified, strict=True)
        if not (isinstance(item, dict) and set(item) == {"sql"})
    }
    return named.pop() if len(named) == 1 and None not in named else None


def parse_migration(text: str, name: str, where: str) -> Migration:
    """Validate migration ``text``; ``where`` names it in errors."""
    data, lines = _load_document(text, where)
    ops, base, desc = _operations_list(data, where, lines)
    if not ops:
        raise _fail(
            where,
            lines.find(base),
            "the migration has no operations",
            "add at least one operation: docs/migration-files.md lists them",
        )
    declared = _schema_key(data, where, lines)
    qualified = _qualified_schemas(ops, base, where, lines)
    schema = _file_schema(declared, ops, qualified)
    parsed = tuple(_parse_operation(item, i, base, where, lines) for i, item in enumerate(ops))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Migration(
        name=name,
        path=where,
        operations=parsed,
        sha256=digest,
        description=desc,
        source_text=text,
        schema=schema,
        op_schemas=qualified,
        content_hash=content_hash(schema, parsed, qualified),
    )


def load_migration(path: str | Path) -> Migration:
    """Read and validate one migration file; its name is the file's stem."""
    p = Path(path)
    where = str(path)
    if p.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise _fail(
            where, None, "a migration file must end in .yaml, .yml or .json", "rename the file"
        )
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(where, None, "no such file", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(where, None, f"cannot read: {exc}", "check the file") from None
    return parse_migration(text, p.stem, where)
