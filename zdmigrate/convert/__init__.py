"""``zdmigrate convert``: write a migration file from SQL, an Alembic revision or pgroll.

:func:`convert` returns a :class:`Conversion`: the file's text with a
comment above every value a person must check (REVIEW) or write (FILL IN),
the notes as data, and the lint findings on what stayed raw SQL.
"""

from zdmigrate.convert.api import Conversion, convert, infer_kind
from zdmigrate.convert.draft import Note

__all__ = ["Conversion", "Note", "convert", "infer_kind"]
