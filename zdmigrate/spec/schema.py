"""The JSON Schema of migration files, for editors and other tools."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from zdmigrate.spec.models import OPERATION_MODELS

__all__ = ["json_schema"]

SCHEMA_ID = "https://zdmigrate.dev/schema/migration.json"


def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) accepting exactly the files zdmigrate accepts."""
    defs: dict[str, Any] = {}
    variants: list[dict[str, Any]] = []
    for kind, model in OPERATION_MODELS.items():
        schema = TypeAdapter(model).json_schema(by_alias=True, ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        schema["properties"].pop("op", None)
        defs[model.__name__] = schema
        variants.append(
            {
                "type": "object",
                "properties": {kind: {"$ref": f"#/$defs/{model.__name__}"}},
                "required": [kind],
                "additionalProperties": False,
            }
        )
    operations = {"type": "array", "minItems": 1, "items": {"oneOf": variants}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "zdmigrate migration file",
        "description": "A list of operations, or {description, schema, operations}.",
        "oneOf": [
            operations,
            {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "schema": {"type": "string", "minLength": 1, "maxLength": 63},
                    "operations": operations,
                },
                "required": ["operations"],
                "additionalProperties": False,
            },
        ],
        "$defs": defs,
    }
