"""Fixtures: every database test gets a fresh database on a real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.pgserver import Server, session_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    try:
        gen = session_server()
        server = next(gen)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    next(gen, None)


@pytest.fixture(autouse=True)
def _server_version_markers(request: pytest.FixtureRequest) -> None:
    markers = [m for m in request.node.iter_markers() if m.name in ("pg_min", "pg_max")]
    if not markers:
        return
    server: Server = request.getfixturevalue("pg_server")
    for m in markers:
        bound = int(m.args[0])
        if m.name == "pg_min" and server.major < bound:
            pytest.skip(f"needs PostgreSQL >= {bound}, server is {server.major}")
        if m.name == "pg_max" and server.major > bound:
            pytest.skip(f"needs PostgreSQL <= {bound}, server is {server.major}")


@pytest.fixture
def db_url(pg_server: Server) -> Iterator[str]:
    """A URL to a new, empty database, dropped after the test."""
    name = f"zdm_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield pg_server.url_for(name)
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the test's fresh database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn
