"""``alembic revision --autogenerate`` against a database in the middle of a migration
(applied, not completed): with zdmigrate's hooks in env.py it proposes nothing, whether
the models are still the old shape or already the new one; without them it proposes to
undo zdmigrate's work."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

import zdmigrate.alembic
from tests.alembic.project import Project
from tests.conftest import drop_login_roles, login_role
from tests.pgserver import Server
from zdmigrate import commands
from zdmigrate.config import load_settings

MIGRATION = """
description: users in the new shape
operations:
  - rename_column: {table: users, from: email, to: email_address}
  - alter_column: {table: users, column: balance, type: bigint, up: balance::bigint, down: balance::integer}
  - alter_column: {table: users, column: name, nullable: false, up: "COALESCE(name, 'someone')"}
  - add_column:
      table: users
      column: {name: country, type: text, nullable: false, default: "'unknown'"}
  - create_index: {name: users_country_idx, table: users, columns: [country]}
"""

OLD_MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("balance", sa.Integer, nullable=False),
    sa.Column("name", sa.Text),
    sa.Index("users_email_idx", "email"),
)
"""

NEW_MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email_address", sa.Text, nullable=False),
    sa.Column("balance", sa.BigInteger, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False, server_default=sa.text("'unknown'")),
    sa.Index("users_email_idx", "email_address"),
    sa.Index("users_country_idx", "country"),
)
"""


def _in_flight(project: Project, url: str) -> None:
    """The users table, and the migration applied (expanded, not completed)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, "
            "balance integer NOT NULL, name text); CREATE INDEX users_email_idx ON users (email);"
            "INSERT INTO users SELECT g, 'u' || g || '@x.org', g, NULL FROM generate_series(1, 500) g"
        )
    path = project.write("migrations/0002_users_new_shape.yaml", MIGRATION)
    settings = load_settings(database_url=url)
    commands.apply(settings, str(path), lambda line: None, lambda p: None)


@pytest.fixture
def project(tmp_path: Path, migrator_url: str) -> Project:
    project = Project(tmp_path, migrator_url)
    _in_flight(project, migrator_url)
    return project


def _columns(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows: Any = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'users'::regclass "
            "AND attnum > 0 AND NOT attisdropped"
        ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize("models", [OLD_MODELS, NEW_MODELS], ids=["old-models", "new-models"])
def test_autogenerate_mid_migration_proposes_nothing(
    project: Project, migrator_url: str, models: str
) -> None:
    # the table carries zdmigrate's additions: shadow and marker columns, a version schema
    assert {"_zdm_balance", "_zdm_needs_backfill"} <= _columns(migrator_url)
    project.write("models.py", models)
    assert project.autogenerate() == "pass"


def test_without_the_hooks_autogenerate_would_undo_the_migration(project: Project) -> None:
    project.write("models.py", OLD_MODELS)
    proposed = project.autogenerate(hooks=False)
    # zdmigrate's columns and its state tables would be dropped, the new column too
    assert "op.drop_column('users', '_zdm_balance')" in proposed
    assert "op.drop_column('users', 'country')" in proposed
    assert "op.drop_table('migrations', schema='zdmigrate')" in proposed
    project.write("models.py", NEW_MODELS)
    proposed = project.autogenerate(hooks=False)
    assert "op.add_column('users', sa.Column('email_address'" in proposed
    assert "op.drop_column('users', 'email')" in proposed
    assert "existing_type=sa.INTEGER()" in proposed  # balance: int -> bigint


def test_after_complete_the_new_models_match_and_the_old_ones_do_not(
    project: Project, migrator_url: str
) -> None:
    settings = load_settings(database_url=migrator_url)
    commands.complete(settings, "0002_users_new_shape", lambda line: None, force=False)
    project.write("models.py", NEW_MODELS)
    assert project.autogenerate() == "pass"
    project.write("models.py", OLD_MODELS)
    assert "op.drop_column('users', 'email_address')" in project.autogenerate()


def test_a_role_that_cannot_read_zdmigrate_state_is_warned(
    project: Project, migrator_url: str, tmp_path: Path, pg_server: Server
) -> None:
    """Such a role gets the name rules only: zdmigrate's own columns are left out, but the
    column the migration added under its final name is proposed, and it is told why."""
    role = f"zdm_dev_{uuid.uuid4().hex[:8]}"
    login_role(pg_server.admin_url, role)
    with psycopg.connect(migrator_url, autocommit=True) as conn:  # for alembic_version
        conn.execute(f'GRANT CREATE ON SCHEMA public TO "{role}"')
    try:
        other = Project(tmp_path / "dev", psycopg.conninfo.make_conninfo(migrator_url, user=role))
        other.write("models.py", OLD_MODELS)
        proposed = other.autogenerate()
        assert "_zdm_" not in proposed
        assert "op.drop_column('users', 'country')" in proposed
        assert f"zdmigrate: role {role} cannot read zdmigrate.migrations" in other.stderr
    finally:
        database = psycopg.conninfo.conninfo_to_dict(migrator_url)["dbname"]
        drop_login_roles(pg_server.admin_url, str(database), role)


@pytest.mark.parametrize(
    ("name", "type_"),
    [
        ("_zdm_trg_0004_x", "trigger"),
        ("_zdm_0004_x_users", "function"),
        ("_zdm_writes_0004_x", "sequence"),
        ("_zdm_i_users_email_idx", "index"),
        ("_zdm_nn_score", "check_constraint"),
        ("zdmigrate", "schema"),
    ],
)
def test_zdmigrate_names_are_left_out_whatever_their_type(name: str, type_: str) -> None:
    """By name alone, outside an Alembic run too (as alembic_utils and other extensions
    pass functions, triggers and sequences to the same hooks)."""
    assert not zdmigrate.alembic.include_name(name, type_, {"schema_name": None})
    if type_ != "schema":
        assert not zdmigrate.alembic.include_object(None, name, type_, True, None)
    assert zdmigrate.alembic.include_name("users_email_idx", "index", {"schema_name": None})
