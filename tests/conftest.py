"""Fixtures: every database test gets a fresh database on a real server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.pgserver import Server, session_server

# The tests' own connections (inspecting, setting up) are a DBA's console to the gate:
# they carry this application_name, and the gate is told to ignore it. A test's old or
# new app sets an application_name of its own.
TEST_APPLICATION = "pytest-harness"
os.environ.setdefault("PGAPPNAME", TEST_APPLICATION)
os.environ.setdefault("ZDMIGRATE_GATE_IGNORE_APPLICATIONS", TEST_APPLICATION)
# A test database has no pg_stat_statements unless a test installs it (tests/gate does,
# and checks that without it the source is unavailable and blocks).
os.environ.setdefault("ZDMIGRATE_GATE_ALLOW_UNAVAILABLE", "statements")
# No waiting: a test that watches activity over a window gives --window itself.
os.environ.setdefault("ZDMIGRATE_GATE_WINDOW", "0s")


VERSION_MARKERS = ("pg_min", "pg_max")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``db`` every test that needs the session's server, so ``-m "not db"`` runs offline.

    That is every test using ``pg_server`` directly or through other fixtures, and every
    test with a version marker (``_server_version_markers`` asks for ``pg_server`` then).
    Runs before ``-m`` deselects.
    """
    for item in items:
        uses_server = "pg_server" in getattr(item, "fixturenames", ())
        if uses_server or any(item.get_closest_marker(m) for m in VERSION_MARKERS):
            item.add_marker(pytest.mark.db)


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
    markers = [m for m in request.node.iter_markers() if m.name in VERSION_MARKERS]
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


@pytest.fixture
def migrator_url(db_url: str, pg_server: Server) -> Iterator[str]:
    """``db_url`` for a new LOGIN role that is not a superuser and owns the database."""
    role = f"zdm_migrator_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(role)))
        name = admin.info.dbname
        admin.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )
    try:
        yield psycopg.conninfo.make_conninfo(db_url, user=role)
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def login_role(admin_url: str, name: str, *grants: str) -> None:
    """A LOGIN role, not a superuser, with ``grants`` run as the admin."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(name)))
        for grant in grants:
            admin.execute(grant)


def drop_login_roles(admin_url: str, database: str, *names: str) -> None:
    """End the roles' sessions, drop what they own or were granted in ``database`` (the
    version schemas' grants among them), and the roles."""
    here = psycopg.conninfo.make_conninfo(admin_url, dbname=database)
    with psycopg.connect(here, autocommit=True) as admin:
        for name in names:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
            if exists.fetchone():
                admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
