"""zdmigrate: zero-downtime expand/contract schema migrations for PostgreSQL.

Attributes are imported on first use so that ``zdmigrate lint`` and
``zdmigrate --help`` start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zdmigrate._version import __version__

if TYPE_CHECKING:
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

_HOMES = {
    "Migration": "zdmigrate.spec",
    "Settings": "zdmigrate.config",
    "ZdmError": "zdmigrate.errors",
    "json_schema": "zdmigrate.spec",
    "load_migration": "zdmigrate.spec",
    "load_settings": "zdmigrate.config",
    "parse_migration": "zdmigrate.spec",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'zdmigrate' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
