"""Connections: opening them, and turning psycopg failures into ZdmErrors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pgerr

from zdmigrate.errors import DatabaseError, ZdmError
from zdmigrate.redact import redact

__all__ = ["connect", "server_major", "translate_errors"]

APPLICATION_NAME = "zdmigrate"


def connect(url: str | None, *, autocommit: bool = True) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection, tagged ``application_name=zdmigrate``."""
    if not url:
        raise DatabaseError(
            "no database URL given",
            "pass --database-url, or set ZDMIGRATE_DATABASE_URL or DATABASE_URL",
        )
    try:
        return psycopg.connect(
            url, autocommit=autocommit, application_name=APPLICATION_NAME, connect_timeout=10
        )
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseError(
            f"cannot connect to {redact(url)}: {redact(first)}",
            "check the URL and that the server is running",
        ) from None
    except (ValueError, psycopg.ProgrammingError) as exc:
        raise DatabaseError(
            f"bad database URL {redact(url)}: {redact(str(exc))}",
            "use postgresql://user@host:port/dbname",
        ) from None


def server_major(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    return conn.info.server_version // 10000


@contextmanager
def translate_errors(context: str) -> Iterator[None]:
    """Report an unexpected database error as one line naming ``context``."""
    try:
        yield
    except ZdmError:
        raise
    except pgerr.InsufficientPrivilege as exc:
        raise DatabaseError(
            f"{context}: permission denied: {_first_line(exc)}",
            "run as the owner of the tables, or grant the missing privilege",
        ) from None
    except (pgerr.UniqueViolation, pgerr.ForeignKeyViolation) as exc:
        # the detail names the offending key: "Key (code)=(0) is duplicated."
        detail = getattr(exc.diag, "message_detail", None)
        found = f" ({redact(detail.strip())})" if detail else ""
        raise DatabaseError(f"{context}: {_first_line(exc)}{found}", _hint(exc)) from None
    except psycopg.Error as exc:
        raise DatabaseError(f"{context}: {_first_line(exc)}", _hint(exc)) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact(text.splitlines()[0]) if text else type(exc).__name__


def _hint(exc: psycopg.Error) -> str | None:
    diag = getattr(exc, "diag", None)
    return getattr(diag, "message_hint", None) if diag else None
