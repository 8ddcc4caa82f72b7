"""An Alembic revision -> operations of a migration file.

Its ``upgrade()`` is rendered offline, as ``zdmigrate lint`` does (no
database, no ``env.py``), and the SQL is converted like a SQL file; a type
change made with ``op.alter_column(..., existing_type=...)`` gets a ``down``
that casts back to that type. Positions point at the revision's lines.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from zdmigrate.alembic.render import render_script
from zdmigrate.convert._pg import normal_type
from zdmigrate.convert.sql import SqlResult, convert_source
from zdmigrate.errors import SpecError

__all__ = ["convert_revision"]


def convert_revision(path: Path) -> SqlResult:
    """The operations of one revision's ``upgrade()``."""
    source = render_script(path)
    for problem in source.problems:
        where = source.position(problem.offset)
        reason = re.sub(r"^(revision )?not linted( from line \d+ on)?: ", "", problem.message)
        raise SpecError(
            f"{where.path}:{where.line}: cannot convert the revision: {reason}",
            "convert reads what 'alembic upgrade --sql' renders: make upgrade() render "
            "offline, or convert that SQL with --from sql",
        )
    known = [replace(e, type_sql=normal_type(e.type_sql)) for e in source.existing_types]

    def existing(start: int, table: str, column: str) -> str | None:
        for entry in known:
            if entry.start <= start < entry.end and (entry.table, entry.column) == (table, column):
                return entry.type_sql
        return None

    return convert_source(source, existing)
