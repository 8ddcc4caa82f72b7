"""What a source can tell the rules beyond its SQL.

A source (an Alembic revision, say) may carry ``existing_types``: a list of
:class:`ExistingType`, read by the type-change rules.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ExistingType"]


@dataclass(frozen=True)
class ExistingType:
    """What a source knows of a column's type before a statement changes it.

    Alembic's ``op.alter_column(..., existing_type=...)`` gives it: the SQL alone
    does not. ``start``/``end`` are the source offsets of the SQL the call emitted.
    """

    start: int
    end: int
    table: str
    column: str
    type_sql: str
