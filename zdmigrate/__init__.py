"""zdmigrate: zero-downtime expand/contract schema migrations for PostgreSQL."""

from zdmigrate._version import __version__
from zdmigrate.config import Settings, load_settings
from zdmigrate.errors import ZdmError
from zdmigrate.spec import Migration, json_schema, load_migration, parse_migration

__all__ = [
    "Migration",
    "Settings",
    "ZdmError",
    "__version__",
    "json_schema",
    "load_migration",
    "load_settings",
    "parse_migration",
]
