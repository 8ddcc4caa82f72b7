"""Connections: opening them, and turning psycopg failures into ZdmErrors."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pgerr

from zdmigrate.errors import DatabaseError, ZdmError
from zdmigrate.redact import redact

__all__ = ["SQL_LOG_ENV", "connect", "server_major", "translate_errors"]

APPLICATION_NAME = "zdmigrate"
# A file to append every statement zdmigrate sends to, one JSON object a line.
SQL_LOG_ENV = "ZDMIGRATE_SQL_LOG"


def _logging_cursor(path: str, application: str) -> type[psycopg.Cursor[Any]]:
    """A cursor class that appends each statement it sends (parameters aside) to ``path``."""

    class LoggingCursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            text = query if isinstance(query, str) else query.as_string(self.connection)
            record = {"application": application, "sql": text, "params": params is not None}
            with open(path, "a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\n")
            return super().execute(query, params, **kwargs)

    return LoggingCursor


def connect(
    url: str | None, *, autocommit: bool = True, application_name: str = APPLICATION_NAME
) -> psycopg.Connection[Any]:
    """Open a connection, tagged with ``application_name``. With ZDMIGRATE_SQL_LOG set,
    every statement sent on it is appended to that file."""
    if not url:
        raise DatabaseError(
            "no database URL given",
            "pass --database-url, or set ZDMIGRATE_DATABASE_URL or DATABASE_URL",
        )
    try:
        log = os.environ.get(SQL_LOG_ENV)
        conn: psycopg.Connection[Any] = psycopg.connect(
            url, autocommit=autocommit, application_name=application_name, connect_timeout=10
        )
        if log:
            conn.cursor_factory = _logging_cursor(log, application_name)
        return conn
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
            f"{context}: permission denied: {_first_line(exc)}", _privilege_hint(exc)
        ) from None
    except (pgerr.UniqueViolation, pgerr.ForeignKeyViolation) as exc:
        # the detail names the offending key: "Key (code)=(0) is duplicated."
        detail = getattr(exc.diag, "message_detail", None)
        found = f" ({redact(detail.strip())})" if detail else ""
        raise DatabaseError(f"{context}: {_first_line(exc)}{found}", _hint(exc)) from None
    except psycopg.Error as exc:
        raise DatabaseError(f"{context}: {_first_line(exc)}", _hint(exc)) from None


def _privilege_hint(exc: psycopg.Error) -> str:
    """What to grant for a permission the server refused: CREATE on the database (the
    state and version schemas), else ownership of the tables."""
    text = str(exc).strip()
    if text.startswith("permission denied for database "):
        database = text.splitlines()[0].removeprefix("permission denied for database ")
        return (
            f"grant CREATE on database {database} to the migration role (for schema "
            "zdmigrate and the version schemas; docs/connecting.md, 'Least privileges')"
        )
    return "run as the owner of the tables, or grant the missing privilege"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact(text.splitlines()[0]) if text else type(exc).__name__


def _hint(exc: psycopg.Error) -> str | None:
    diag = getattr(exc, "diag", None)
    return getattr(diag, "message_hint", None) if diag else None
