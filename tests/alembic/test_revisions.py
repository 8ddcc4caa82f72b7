"""zdmigrate driven from Alembic revisions: ``apply`` in an expand revision, ``complete``
in a later one, with the real ``alembic`` command line and a real server; the migration
role is not a superuser and the application connects as a role of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.alembic.project import Project
from tests.conftest import drop_login_roles, login_role
from tests.pgserver import Server
from zdmigrate import commands
from zdmigrate.config import Settings

NAME = "0002_users_email_address"
PLAN_FLAGS = ("--schema-file", "schema.json", "--format", "sql")
MIGRATION = """
description: users.email becomes email_address, users.score becomes bigint
operations:
  - rename_column: {table: users, from: email, to: email_address}
  - alter_column: {table: users, column: score, type: bigint, up: score::bigint, down: score::integer}
"""
CREATE = """
op.create_table(
    "users",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
)
op.execute(
    "INSERT INTO users SELECT g, 'u' || g || '@x.org', g FROM generate_series(1, 3000) g"
)
op.execute("GRANT SELECT, INSERT, UPDATE ON users TO {app}")
"""


@pytest.fixture
def app_role(pg_server: Server, migrator_url: str) -> Iterator[str]:
    name = f"zdm_app_{uuid.uuid4().hex[:8]}"
    login_role(pg_server.admin_url, name)
    yield name
    database = psycopg.conninfo.conninfo_to_dict(migrator_url)["dbname"]
    drop_login_roles(pg_server.admin_url, str(database), name)


@pytest.fixture
def project(tmp_path: Path, migrator_url: str, app_role: str, pg_server: Server) -> Project:
    # as in production: the gate sees the app's sessions (docs/connecting.md)
    role = psycopg.conninfo.conninfo_to_dict(migrator_url)["user"]
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        admin.execute(f'GRANT pg_read_all_stats TO "{role}"')
    project = Project(tmp_path, migrator_url)
    project.write("migrations/0002_users_email_address.yaml", MIGRATION)
    project.revision("0001", None, CREATE.replace("{app}", app_role))
    project.revision(
        "0002",
        "0001",
        f'zdmigrate.alembic.apply(op, "migrations/{NAME}.yaml", schema_file="schema.json")',
        downgrade=f'zdmigrate.alembic.rollback(op, "{NAME}")',
    )
    project.revision("0003", "0002", f'zdmigrate.alembic.complete(op, "{NAME}")')
    return project


def _one(url: str, query: str) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    return row[0] if row else None


def _columns(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped"
        ).fetchall()
    return dict(rows)


def _app_url(migrator_url: str, role: str) -> str:
    return psycopg.conninfo.make_conninfo(migrator_url, user=role, application_name="old-app")


def test_upgrade_runs_expand_then_complete(project: Project, migrator_url: str) -> None:
    done = project.alembic("upgrade", "0002")
    assert done.returncode == 0, done.stderr
    assert f"{NAME}: expanded" in done.stderr
    assert "backfill users: 3,000/3,000 rows" in done.stderr  # progress
    # expanded: the shadow column and the version schema, both versions work
    assert _columns(migrator_url)["_zdm_score"] == "bigint"
    assert _one(migrator_url, "SELECT to_regnamespace('public_0002_users_email_address')::text")
    assert _one(migrator_url, "SELECT version_num FROM alembic_version") == "0002"
    new = "SELECT email_address FROM public_0002_users_email_address.users WHERE id = 7"
    assert _one(migrator_url, new) == "u7@x.org"

    done = project.alembic("upgrade", "head")
    assert done.returncode == 0, done.stderr
    assert f"{NAME}: completed" in done.stderr
    assert _columns(migrator_url) == {"id": "integer", "email_address": "text", "score": "bigint"}
    assert _one(migrator_url, "SELECT version_num FROM alembic_version") == "0003"
    assert _one(migrator_url, "SELECT sum(score) FROM users") == 3000 * 3001 // 2

    # the revisions run again (a deploy from a fresh alembic_version): nothing to do
    assert project.alembic("stamp", "0001").returncode == 0
    done = project.alembic("upgrade", "head")
    assert done.returncode == 0, done.stderr
    assert f"{NAME}: already completed" in done.stderr
    assert _columns(migrator_url) == {"id": "integer", "email_address": "text", "score": "bigint"}


@pytest.mark.parametrize("per_migration", [True, False], ids=["per-revision", "one-transaction"])
def test_one_upgrade_creates_expands_and_completes(
    project: Project, migrator_url: str, per_migration: bool
) -> None:
    """All three revisions in one run: the expand revision sees the table the first one
    created (also when the whole upgrade is one transaction, Alembic's default), and the
    gate does not count the upgrade's own connection (opened before expand) as an old
    version's session."""
    done = project.alembic("upgrade", "head", per_migration=per_migration)
    assert done.returncode == 0, done.stderr
    assert _columns(migrator_url) == {"id": "integer", "email_address": "text", "score": "bigint"}
    assert _one(migrator_url, "SELECT version_num FROM alembic_version") == "0003"


def test_a_blocked_gate_fails_the_upgrade_and_changes_nothing(
    project: Project, migrator_url: str, app_role: str
) -> None:
    assert project.alembic("upgrade", "0001").returncode == 0
    with psycopg.connect(_app_url(migrator_url, app_role), autocommit=True) as old_app:
        old_app.execute("SELECT email FROM users WHERE id = 1")
        assert project.alembic("upgrade", "0002").returncode == 0
        done = project.alembic("upgrade", "head")
        assert done.returncode != 0
        shown = done.stdout + done.stderr
        assert f"FAILED: zdmigrate: cannot complete '{NAME}': sessions: session" in shown, shown
        assert "old-app" in shown  # the evidence: the old app's session
        assert "Traceback" not in shown
        assert _one(migrator_url, "SELECT version_num FROM alembic_version") == "0002"
        assert "email" in _columns(migrator_url)
    # the old app is gone: the same upgrade goes through
    done = project.alembic("upgrade", "head")
    assert done.returncode == 0, done.stderr
    assert _one(migrator_url, "SELECT version_num FROM alembic_version") == "0003"


def test_downgrade_rolls_back(project: Project, migrator_url: str) -> None:
    assert project.alembic("upgrade", "0002").returncode == 0
    done = project.alembic("downgrade", "0001")
    assert done.returncode == 0, done.stderr
    assert _columns(migrator_url) == {"id": "integer", "email": "text", "score": "integer"}
    assert _one(migrator_url, "SELECT to_regnamespace('public_0002_users_email_address')") is None


def test_upgrade_sql_prints_the_plan(project: Project, migrator_url: str) -> None:
    assert project.alembic("upgrade", "0001").returncode == 0
    settings = Settings(database_url=migrator_url)
    commands.snapshot(settings, str(project.root / "schema.json"), [])
    done = project.alembic("upgrade", "0001:head", "--sql")
    assert done.returncode == 0, done.stderr
    # exactly what 'zdmigrate plan FILE --schema-file schema.json --format sql' prints
    env = {
        k: v for k, v in os.environ.items() if k not in ("ZDMIGRATE_DATABASE_URL", "DATABASE_URL")
    }
    plan = subprocess.run(
        [sys.executable, "-m", "zdmigrate", "plan", f"migrations/{NAME}.yaml", *PLAN_FLAGS],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert plan.returncode == 0, plan.stderr
    script = plan.stdout
    at = script.index("\n-- == Contract")
    expand, contract = script[: at + 1].rstrip("\n"), script[at + 1 :].rstrip("\n")
    out = done.stdout
    assert expand in out and contract in out
    # expand in the expand revision, outside its transaction; contract in the later one
    assert out.index("COMMIT;\n\n" + expand) < out.index(
        "UPDATE alembic_version SET version_num='0002'"
    )
    assert out.index("UPDATE alembic_version SET version_num='0002'") < out.index(contract)
    assert "ALTER TABLE" in contract


def test_lint_of_the_revisions_notes_the_helpers(tmp_path: Path) -> None:
    """``zdmigrate lint`` renders revisions offline: the helpers write a note there, not
    their plan (the migration file is linted as such), so nothing stops rendering."""
    project = Project(tmp_path, "host=127.0.0.1 user=nobody dbname=none")
    project.write(f"migrations/{NAME}.yaml", MIGRATION)
    project.revision("0001", None, CREATE.replace("{app}", "app"))
    project.revision("0002", "0001", f'zdmigrate.alembic.apply(op, "migrations/{NAME}.yaml")')
    project.revision("0003", "0002", f'zdmigrate.alembic.complete(op, "{NAME}")')
    done = subprocess.run(
        [sys.executable, "-m", "zdmigrate", "lint", "alembic/", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["findings"] == []
