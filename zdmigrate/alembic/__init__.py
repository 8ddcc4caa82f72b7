"""zdmigrate beside Alembic.

- Reading revisions for lint: their SQL as ``alembic upgrade --sql`` renders it
  (``render``).
- For a team's ``env.py``: ``include_name`` and ``include_object``, so that
  autogenerate leaves alone what zdmigrate adds while a migration is in flight
  (``autogen``).
- For revisions: ``apply(op, "migrations/0004_x.yaml")`` and ``complete(op,
  "0004_x")`` run zdmigrate from ``alembic upgrade`` (``revision``).

Attributes are imported on first use: ``zdmigrate lint`` imports this package to
render revisions and must not pay for the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zdmigrate.alembic.render import RevisionSource, project_sources, revision_sources

if TYPE_CHECKING:
    from zdmigrate.alembic.autogen import include_name, include_object
    from zdmigrate.alembic.revision import apply, complete, rollback

__all__ = [
    "RevisionSource",
    "apply",
    "complete",
    "include_name",
    "include_object",
    "project_sources",
    "revision_sources",
    "rollback",
]

_HOMES = {
    "include_name": "zdmigrate.alembic.autogen",
    "include_object": "zdmigrate.alembic.autogen",
    "apply": "zdmigrate.alembic.revision",
    "complete": "zdmigrate.alembic.revision",
    "rollback": "zdmigrate.alembic.revision",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'zdmigrate.alembic' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
