"""Helpers shared by the engine tests: migration files, the CLI phases, app clients.

``migrator`` works on an emptied database (one per module, every schema
dropped before each test, which is much cheaper than a new database): it writes
migration files to ``tmp_path``, runs ``apply``/``complete``/``rollback``
through the CLI with ``--database-url``, and opens connections the way the
two app versions do: the old one on the physical tables in ``public``, the
new one with ``search_path`` set to the migration's version schema.
``direct_database`` is a second database on the same server, for a schema
built directly with DDL, dropped afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from tests.catalog import Snapshot, snapshot
from tests.cli_helpers import Result, zdm
from tests.pgserver import Server

Conn = psycopg.Connection[Any]


OLD_APP, NEW_APP = "old-app", "new-app"


def connect(url: str, search_path: str | None = None) -> Conn:
    """An autocommit connection returning dict rows; ``search_path`` as the new app sets it."""
    app = OLD_APP if search_path is None else NEW_APP
    conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, application_name=app)
    if search_path is not None:
        conn.execute(sql.SQL("SET search_path = {}").format(sql.SQL(search_path)))
    return conn


def snapshot_of(url: str) -> Snapshot:
    """The snapshot of the ``public`` schema of the database at ``url``."""
    with psycopg.connect(url, autocommit=True) as conn:
        return snapshot(conn, "public")


def public_snapshot(url: str) -> Snapshot:
    """``snapshot_of``, with zdmigrate's own state schema left out of the schema list."""
    snap = snapshot_of(url)
    snap["schemas"] = [s for s in snap["schemas"] if s != "zdmigrate"]
    return snap


@dataclass
class Migrator:
    url: str
    folder: Path
    # the role the app's old and new versions connect as (the migrator's own by default)
    app_url: str = ""
    conns: list[Conn] = field(default_factory=list)
    opened: dict[int, float] = field(default_factory=dict)
    applied: float = 0.0

    def write(self, name: str, operations: list[dict[str, Any]]) -> Path:
        """A migration file ``<name>.json`` holding ``operations``."""
        path = self.folder / f"{name}.json"
        path.write_text(json.dumps({"operations": operations}, indent=2))
        return path

    def run(self, *args: str) -> Result:
        return zdm("--database-url", self.url, *args)

    def apply(self, path: Path) -> dict[str, Any]:
        """Run ``apply``; it must succeed. Returns its JSON result."""
        self.applied = time.monotonic()
        res = self.run("apply", str(path), "--format", "json")
        assert res.exit_code == 0, res.stderr
        result: dict[str, Any] = json.loads(res.stdout)
        return result

    def complete(self, name: str) -> None:
        """Contract, once the old version is gone: its connections, and any opened before
        the last apply, are closed first (the gate counts them as the old version's)."""
        for conn in [c for c in self.conns if self._before_apply(c)]:
            conn.close()
            self.conns.remove(conn)
        res = self.run("complete", name)
        assert res.exit_code == 0, res.stderr

    def _before_apply(self, conn: Conn) -> bool:
        if conn.closed:
            return True
        old = conn.info.parameter_status("application_name") == OLD_APP
        return old or self.opened.get(id(conn), 0.0) < self.applied

    def rollback(self, name: str) -> None:
        res = self.run("rollback", name)
        assert res.exit_code == 0, res.stderr

    def owner(self) -> Conn:
        """The migration role's own connection, for the DDL that sets a test up."""
        conn = connect(self.url)
        self.conns.append(conn)
        return conn

    def old(self) -> Conn:
        """A client of the old version: physical tables, old names."""
        conn = connect(self.app_url or self.url)
        self.conns.append(conn)
        return conn

    def new(self, version_schema: str) -> Conn:
        """A client of the new version: its version schema first on the search_path."""
        path = f"{sql.Identifier(version_schema).as_string()}, public"
        conn = connect(self.app_url or self.url, path)
        self.conns.append(conn)
        self.opened[id(conn)] = time.monotonic()
        return conn

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


_EMPTY = """
DO $$
DECLARE s text;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace
            WHERE nspname NOT IN ('pg_catalog', 'information_schema')
              AND nspname NOT LIKE 'pg\\_%'
  LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', s);
  END LOOP;
  CREATE SCHEMA public;
END
$$
"""


def _empty(url: str) -> None:
    """Drop every schema (zdmigrate's state and version schemas too); a new, empty public."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_EMPTY)


@dataclass(frozen=True)
class EngineDatabase:
    """The module's database, as the migration role and as the app role see it."""

    url: str
    app_url: str
    app_role: str | None  # None: the superuser does everything


@pytest.fixture(scope="module", params=["superuser", "app-role"])
def engine_database(request: pytest.FixtureRequest, pg_server: Server) -> Iterator[EngineDatabase]:
    """One database per module, each test emptying it first (cheaper than a new one);
    every test runs twice: as the superuser, and as production runs, with a migration
    role that owns the database and is not a superuser and an app role of its own
    that has the table privileges the schema's default privileges give it."""
    name = _create_database(pg_server)
    tag = uuid.uuid4().hex[:8]
    migrator, app = f"zdm_mig_{tag}", f"zdm_app_{tag}"
    url = pg_server.url_for(name)
    if request.param == "superuser":
        db = EngineDatabase(url, url, None)
    else:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
            for role in (migrator, app):
                admin.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(role))
                )
            admin.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(name), sql.Identifier(migrator)
                )
            )
            # the gate sees the app role's sessions (docs/connecting.md, least privileges)
            admin.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(migrator)))
        db = EngineDatabase(
            psycopg.conninfo.make_conninfo(url, user=migrator),
            psycopg.conninfo.make_conninfo(url, user=app),
            app,
        )
    try:
        yield db
    finally:
        _drop_database(pg_server, name)
        if db.app_role is not None:
            with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
                for role in (migrator, app):
                    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


_APP_PRIVILEGES = """
GRANT USAGE ON SCHEMA public TO {app};
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app};
"""


@pytest.fixture
def migrator(engine_database: EngineDatabase, tmp_path: Path) -> Iterator[Migrator]:
    """A Migrator on an empty database: no schema but an empty ``public``."""
    _empty(engine_database.url)
    if engine_database.app_role is not None:
        with psycopg.connect(engine_database.url, autocommit=True) as conn:
            app = sql.Identifier(engine_database.app_role)
            conn.execute(sql.SQL(_APP_PRIVILEGES).format(app=app))
    m = Migrator(engine_database.url, tmp_path, engine_database.app_url)
    try:
        yield m
    finally:
        m.close()


def _create_database(server: Server) -> str:
    name = f"zdm_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def _drop_database(server: Server, name: str) -> None:
    with psycopg.connect(server.admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="module")
def direct_database(pg_server: Server) -> Iterator[Callable[[str], str]]:
    """A second database on the test server, for schemas built directly with DDL.

    ``build(ddl)`` empties its ``public`` schema, runs ``ddl`` and returns the
    database's URL. Made once per module (a database costs more than a test)
    and dropped afterwards.
    """
    name = _create_database(pg_server)
    url = pg_server.url_for(name)

    def build(ddl: str) -> str:
        _empty(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(ddl)
        return url

    try:
        yield build
    finally:
        _drop_database(pg_server, name)
