"""Migration files: models, loading, JSON Schema."""

from zdmigrate.spec.loader import Migration, load_migration, parse_migration
from zdmigrate.spec.models import OPERATION_MODELS, Operation
from zdmigrate.spec.schema import json_schema

__all__ = [
    "OPERATION_MODELS",
    "Migration",
    "Operation",
    "json_schema",
    "load_migration",
    "parse_migration",
]
