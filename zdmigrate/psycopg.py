"""The new application version's connections, with psycopg 3.

- ``use_version(conn, "0004_x")``: put a connection on the version (session).
- ``configure("0004_x")``: the same as a ``psycopg_pool`` ``configure`` callback,
  so that every connection of the pool is on the version.
- ``transaction(conn, "0004_x")``: a transaction that starts with ``SET LOCAL``
  of the version, for a transaction pooler (PgBouncer ``pool_mode =
  transaction``), where a session setting would leak to the next client.
- ``options("0004_x")``: the ``options`` connection parameter that does it at
  connection start (``psycopg.connect(url, options=...)``), where no pooler is
  in between.

``schema`` is the schema of the migration's tables (default ``public``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from zdmigrate._versions import declare_sql, select_sql, startup_options

__all__ = ["configure", "options", "transaction", "use_version"]

Conn = psycopg.Connection[Any]


def use_version(
    conn: Conn, migration: str, *, schema: str = "public", declare: bool = True
) -> None:
    """Set the session's search_path to the version schema of ``migration`` (then
    ``schema``) and ``zdmigrate.version``; with ``declare``, also add
    ``version=<migration>`` to its application_name, for the gate. Committed at once
    (a setting made in a transaction that rolls back would be undone)."""
    with conn.transaction():
        conn.execute(select_sql(schema, migration))
        if declare:
            conn.execute(declare_sql(migration))


def configure(
    migration: str, *, schema: str = "public", declare: bool = True
) -> Callable[[Conn], None]:
    """A ``psycopg_pool.ConnectionPool(configure=...)`` callback doing ``use_version``
    on each new connection (it leaves the connection idle, as the pool wants)."""

    def configure_connection(conn: Conn) -> None:
        use_version(conn, migration, schema=schema, declare=declare)

    return configure_connection


@contextmanager
def transaction(conn: Conn, migration: str, *, schema: str = "public") -> Iterator[Conn]:
    """``with transaction(conn, "0004_x"):`` a transaction on the version (``SET
    LOCAL``): the way through a transaction pooler."""
    with conn.transaction():
        conn.execute(select_sql(schema, migration, local=True))
        yield conn


def options(migration: str, *, schema: str = "public") -> str:
    """The ``options`` connection parameter (or ``PGOPTIONS``) that starts a session on
    the version: ``-c search_path=... -c zdmigrate.version=...``."""
    return startup_options(schema, migration)
