"""The new application version's connections, with SQLAlchemy (Core and ORM).

``use_version(engine, "0004_x")`` adds an event to the engine so that every
connection it uses is on the migration's version: the version schema first in
``search_path`` (then the tables' schema), and ``zdmigrate.version`` set.

- ``pooling="session"`` (default; a direct connection, or PgBouncer in session
  pooling): a ``connect`` event sets both for the session, once per new
  connection, and adds ``version=<migration>`` to its application_name for the
  gate (``declare``).
- ``pooling="transaction"`` (PgBouncer in transaction pooling): a ``begin``
  event sets both with ``SET LOCAL`` semantics first in every transaction, so
  nothing leaks to the next client of the server connection. Statements run
  outside a transaction (AUTOCOMMIT) are not covered there.

The ORM needs nothing more: a ``Session`` bound to the engine runs on the version.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from zdmigrate._versions import declare_sql, select_sql, startup_options

__all__ = ["connect_args", "use_version"]


def _run(dbapi_conn: Any, statements: list[str]) -> None:
    """Run ``statements`` on a new DBAPI connection and leave it without a transaction
    (the driver's autocommit for the time of it, as SQLAlchemy documents for SET)."""
    autocommit = getattr(dbapi_conn, "autocommit", None)
    if autocommit is not None:
        dbapi_conn.autocommit = True
    cursor = dbapi_conn.cursor()
    try:
        for statement in statements:
            cursor.execute(statement)
    finally:
        cursor.close()
    if autocommit is not None:
        dbapi_conn.autocommit = autocommit
    else:
        dbapi_conn.commit()


def use_version(
    engine: Engine,
    migration: str,
    *,
    schema: str = "public",
    pooling: Literal["session", "transaction"] = "session",
    declare: bool = True,
) -> Engine:
    """Put every connection of ``engine`` on the version of ``migration`` (see the
    module's docstring); returns the engine. Call it before the engine connects (a
    pooled connection opened earlier keeps its settings)."""
    if pooling == "session":
        statements = [select_sql(schema, migration)]
        if declare:
            statements.append(declare_sql(migration))

        def on_connect(dbapi_conn: Any, record: Any) -> None:
            _run(dbapi_conn, statements)

        event.listen(engine, "connect", on_connect, insert=True)
    elif pooling == "transaction":
        local = select_sql(schema, migration, local=True)

        def on_begin(conn: Connection) -> None:
            conn.exec_driver_sql(local)

        event.listen(engine, "begin", on_begin)
    else:
        raise ValueError(f"pooling='{pooling}': give 'session' or 'transaction'")
    return engine


def connect_args(migration: str, *, schema: str = "public") -> dict[str, Any]:
    """``create_engine(url, connect_args=connect_args("0004_x"))``: the version set at
    connection start through libpq's ``options`` (not through PgBouncer, which does not
    pass ``options`` on)."""
    return {"options": startup_options(schema, migration)}
