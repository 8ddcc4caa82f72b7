"""A migration in flight for the application helpers' tests: table ``shop.users``
(not in public) owned by a migration role that is not a superuser, an application
role with table grants, and a rename plus a type change applied, not completed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import drop_login_roles, login_role
from tests.pgserver import Server
from zdmigrate import commands
from zdmigrate.config import Settings

NAME = "0003_users_email_address"
SCHEMA = "shop"
MIGRATION = """
description: shop.users.email becomes email_address, score becomes bigint
schema: shop
operations:
  - rename_column: {table: users, from: email, to: email_address}
  - alter_column: {table: users, column: score, type: bigint, up: score::bigint, down: score::integer}
"""


@dataclass
class InFlight:
    migrator_url: str
    app_url: str
    settings: Settings


@pytest.fixture
def in_flight(tmp_path: Path, migrator_url: str, pg_server: Server) -> Iterator[InFlight]:
    app = f"zdm_app_{uuid.uuid4().hex[:8]}"
    login_role(pg_server.admin_url, app)
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute(
            "CREATE SCHEMA shop; CREATE TABLE shop.users (id integer PRIMARY KEY, "
            "email text NOT NULL, score integer NOT NULL);"
            "INSERT INTO shop.users SELECT g, 'u' || g || '@x.org', g FROM generate_series(1, 100) g"
        )
        conn.execute(f'GRANT USAGE ON SCHEMA shop TO "{app}"')
        conn.execute(f'GRANT SELECT, INSERT, UPDATE ON shop.users TO "{app}"')
    path = tmp_path / f"{NAME}.yaml"
    path.write_text(MIGRATION)
    settings = Settings(database_url=migrator_url)
    commands.apply(settings, str(path), lambda line: None, lambda p: None)
    app_url = psycopg.conninfo.make_conninfo(migrator_url, user=app)
    yield InFlight(migrator_url, app_url, settings)
    database = psycopg.conninfo.conninfo_to_dict(migrator_url)["dbname"]
    drop_login_roles(pg_server.admin_url, str(database), app)


def physical(url: str, key: int) -> tuple[str, int, int]:
    """The row as the table holds it: email, score and the new version's score."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT email, score, _zdm_score FROM shop.users WHERE id = %s", (key,)
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]
