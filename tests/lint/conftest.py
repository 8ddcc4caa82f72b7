"""Every revision these tests render statically is checked against the real rendering."""

from tests.alembic.static_check import static_equals_imported

__all__ = ["static_equals_imported"]
