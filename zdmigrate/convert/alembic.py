"""An Alembic revision -> operations of a migration file.

Its ``upgrade()`` is rendered offline, as ``zdmigrate lint`` does (no
database, no ``env.py``), and the SQL is converted like a SQL file; a type
change made with ``op.alter_column(..., existing_type=...)`` gets a ``down``
that casts back to that type. Positions point at the revision's lines.
"""

from __future__ import annotations

from pathlib import Path

from zdmigrate.alembic.render import render_script
from zdmigrate.convert.sql import SqlResult, convert_source
from zdmigrate.errors import SpecError

__all__ = ["convert_revision"]


def convert_revision(path: Path) -> SqlResult:
    """The operations of one revision's ``upgrade()``."""
    source = render_script(path)
    for problem in source.problems:
        where = source.position(problem.offset)
        raise SpecError(f"{where.path}:{where.line}: {problem.message}", problem.help or None)
    known = source.existing_types

    def existing(start: int, table: str, column: str) -> str | None:
        for entry in known:
            if entry.start <= start < entry.end and (entry.table, entry.column) == (table, column):
                return entry.type_sql
        return None

    return convert_source(source, existing)
