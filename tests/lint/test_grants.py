"""new-table-without-grants: the app's roles, from the linted set and from the database."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.cli_helpers import zdm
from tests.conftest import drop_login_roles, login_role
from tests.lint.helpers import lint, write
from tests.pgserver import Server

RULE = ("--select", "new-table-without-grants")
GRANTED = (
    "CREATE TABLE billing.customers (id bigint PRIMARY KEY);\n"
    "GRANT SELECT, INSERT, UPDATE, DELETE ON billing.customers TO app_rw;\n"
)


def _found(*args: str) -> list[dict[str, Any]]:
    res = lint(*args, "--format", "json")
    assert res.exit_code in (0, 1), res.stderr
    findings: list[dict[str, Any]] = json.loads(res.stdout)["findings"]
    return [f for f in findings if f["rule"] == "new-table-without-grants"]


def test_an_earlier_migrations_grants_name_the_app_role(tmp_path: Path) -> None:
    write(tmp_path, "0001_customers.sql", GRANTED)
    new = write(tmp_path, "0002_invoices.sql", "CREATE TABLE billing.invoices (id bigint);\n")
    res = lint(str(tmp_path), *RULE)
    assert res.exit_code == 1
    assert (
        f"{new}:1:14: warning ZD110 new-table-without-grants: table billing.invoices gets no "
        "privileges for app_rw, which has SELECT, INSERT, UPDATE, DELETE on the other tables of "
        "schema billing"
    ) in res.stdout
    assert (
        "  help: GRANT SELECT, INSERT, UPDATE, DELETE ON billing.invoices TO app_rw in the same "
        "migration, or ALTER DEFAULT PRIVILEGES IN SCHEMA billing GRANT SELECT, INSERT, UPDATE, "
        "DELETE ON TABLES TO app_rw once"
    ) in res.stdout


def test_a_grant_later_in_the_same_migration_covers_the_table(tmp_path: Path) -> None:
    write(tmp_path, "0001_customers.sql", GRANTED)
    write(
        tmp_path,
        "0002_invoices.sql",
        "CREATE TABLE billing.invoices (id bigint);\n"
        "CREATE INDEX invoices_id ON billing.invoices (id);\n"
        "GRANT SELECT ON billing.invoices TO app_rw;\n",
    )
    res = lint(str(tmp_path), *RULE)
    assert res.exit_code == 0, res.stdout
    assert res.stdout.startswith("no problems (2 files, ")


def test_a_grant_in_the_next_migration_is_too_late(tmp_path: Path) -> None:
    write(tmp_path, "0001_customers.sql", GRANTED)
    write(tmp_path, "0002_invoices.sql", "CREATE TABLE billing.invoices (id bigint);\n")
    write(tmp_path, "0003_grant.sql", "GRANT SELECT ON billing.invoices TO app_rw;\n")
    assert [Path(f["path"]).name for f in _found(str(tmp_path))] == ["0002_invoices.sql"]


def test_default_privileges_of_an_earlier_migration_cover_new_tables(tmp_path: Path) -> None:
    write(tmp_path, "0001_customers.sql", GRANTED)
    write(
        tmp_path,
        "0002_defaults.sql",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA billing\n"
        "  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO app_rw;\n",
    )
    write(tmp_path, "0003_invoices.sql", "CREATE TABLE billing.invoices (id bigint);\n")
    res = lint(str(tmp_path), *RULE)
    assert res.exit_code == 0, res.stdout


def test_without_any_grant_the_app_roles_are_unknown(tmp_path: Path) -> None:
    """No database and no GRANT in the linted set: nothing to compare with, no finding."""
    write(tmp_path, "0001_customers.sql", "CREATE TABLE billing.customers (id bigint);\n")
    write(tmp_path, "0002_invoices.sql", "CREATE TABLE billing.invoices (id bigint);\n")
    assert lint(str(tmp_path), *RULE).exit_code == 0


def test_alembic_create_table_after_a_revision_that_granted(tmp_path: Path) -> None:
    write(tmp_path, "alembic.ini", "[alembic]\nscript_location = %(here)s/migrations\n")
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    write(tmp_path / "migrations", "env.py", "")
    head = "import sqlalchemy as sa\nfrom alembic import op\n\n"
    write(
        versions,
        "0001_users.py",
        head + 'revision = "0001"\ndown_revision = None\n\n\ndef upgrade() -> None:\n'
        '    op.create_table("users", sa.Column("id", sa.BigInteger, primary_key=True))\n'
        '    op.execute("GRANT SELECT, INSERT ON users TO app_rw")\n',
    )
    write(
        versions,
        "0002_orders.py",
        head + 'revision = "0002"\ndown_revision = "0001"\n\n\ndef upgrade() -> None:\n'
        '    op.create_table("orders", sa.Column("id", sa.BigInteger, primary_key=True))\n',
    )
    (finding,) = _found(str(tmp_path))
    assert (Path(finding["path"]).name, finding["line"]) == ("0002_orders.py", 9)
    assert finding["message"] == (
        "table public.orders gets no privileges for app_rw, which has SELECT, INSERT on the "
        "other tables of schema public"
    )


def test_parallel_runs_know_the_grants_of_earlier_runs(tmp_path: Path) -> None:
    """Grants and default privileges from runs linted in other processes are known to the
    last run: it finds the same as one process."""
    from zdmigrate.lint import LintSettings, lint_paths
    from zdmigrate.lint.runner import PARALLEL_MIN_CHARS

    pad = f"-- {'padding ' * 60}\n" * 20
    write(tmp_path, "0000.sql", GRANTED + "GRANT SELECT ON billing.customers TO app_ro;\n" + pad)
    for n in range(1, 60):
        write(tmp_path, f"{n:04d}.sql", f"SELECT {n};\n" + pad)
    write(
        tmp_path,
        "0030_defaults.sql",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA billing GRANT SELECT ON TABLES TO app_ro, app_rw;\n",
    )
    write(
        tmp_path,
        "0040_revoke.sql",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA billing REVOKE SELECT ON TABLES FROM app_rw;\n",
    )
    write(tmp_path, "9999.sql", "CREATE TABLE billing.invoices (id bigint);\n")
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) > PARALLEL_MIN_CHARS
    settings = LintSettings(select=("new-table-without-grants",))
    one = lint_paths([str(tmp_path)], settings, jobs=1)
    several = lint_paths([str(tmp_path)], settings, jobs=3)
    assert several.findings == one.findings
    mine = [f for f in one.findings if f.rule == "new-table-without-grants"]
    assert [(Path(f.path).name, f.message.split(",")[0]) for f in mine] == [
        ("9999.sql", "table billing.invoices gets no privileges for app_rw")
    ]


def test_the_grants_of_a_schema_file_name_the_app_roles(tmp_path: Path) -> None:
    """A database whose tables predate the linted migrations: its dump's GRANTs count."""
    schema = write(
        tmp_path,
        "schema.sql",
        "CREATE TABLE public.accounts (id bigint NOT NULL);\n"
        "GRANT SELECT,INSERT ON TABLE public.accounts TO app_rw;\n",
    )
    path = write(tmp_path, "m.sql", "CREATE TABLE ledger (id bigint);\n")
    (finding,) = _found("--schema-file", schema, path)
    assert finding["message"] == (
        "table public.ledger gets no privileges for app_rw, which has SELECT, INSERT on the "
        "other tables of schema public"
    )


# With a database: the app's roles and the default privileges are read from it.


@pytest.fixture
def roles(db_url: str, pg_server: Server) -> Iterator[tuple[str, str]]:
    """Two roles of this test: an app role, and a group role it is a member of."""
    suffix = uuid.uuid4().hex[:8]
    app, group = f"zdm_app_{suffix}", f"zdm_group_{suffix}"
    login_role(pg_server.admin_url, group)
    login_role(
        pg_server.admin_url,
        app,
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(app)).as_string(),
    )
    yield app, group
    database = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    drop_login_roles(pg_server.admin_url, str(database), app, group)


def _with_db(db_url: str, path: str) -> list[dict[str, Any]]:
    return _found("--database-url", db_url, path, *RULE)


def _billing(db: psycopg.Connection[Any], role: str) -> None:
    db.execute("CREATE SCHEMA billing")
    db.execute("CREATE TABLE billing.customers (id bigint PRIMARY KEY)")
    db.execute(
        sql.SQL("GRANT SELECT, UPDATE ON billing.customers TO {}").format(sql.Identifier(role))
    )


def test_database_grants_name_the_app_role(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path, roles: tuple[str, str]
) -> None:
    app, _ = roles
    _billing(db, app)
    path = write(tmp_path, "m.sql", "CREATE TABLE billing.invoices (id bigint);\n")
    (finding,) = _with_db(db_url, path)
    assert finding["severity"] == "warning"
    assert finding["message"] == (
        f"table billing.invoices gets no privileges for {app}, which has SELECT, UPDATE on the "
        "other tables of schema billing"
    )
    assert lint(path, *RULE).exit_code == 0  # offline, the role is not known


def test_database_default_privileges_cover_new_tables(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path, roles: tuple[str, str]
) -> None:
    app, _ = roles
    _billing(db, app)
    db.execute(
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA billing "
            "GRANT SELECT ON TABLES TO {}"
        ).format(sql.Identifier(app))
    )
    path = write(tmp_path, "m.sql", "CREATE TABLE billing.invoices (id bigint);\n")
    res = lint("--database-url", db_url, path, *RULE)
    assert res.exit_code == 0, res.stdout


def test_another_roles_default_privileges_do_not_count(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path, roles: tuple[str, str]
) -> None:
    """Default privileges FOR ROLE someone else apply to that role's tables only."""
    app, group = roles
    _billing(db, app)
    db.execute(
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA billing GRANT SELECT ON TABLES TO {}"
        ).format(sql.Identifier(group), sql.Identifier(app))
    )
    path = write(tmp_path, "m.sql", "CREATE TABLE billing.invoices (id bigint);\n")
    assert [f["rule"] for f in _with_db(db_url, path)] == ["new-table-without-grants"]


def test_a_grant_to_a_role_the_app_role_is_a_member_of_covers_it(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path, roles: tuple[str, str]
) -> None:
    app, group = roles
    _billing(db, app)
    path = write(
        tmp_path,
        "m.sql",
        "CREATE TABLE billing.invoices (id bigint);\n"
        f"GRANT SELECT ON billing.invoices TO {group};\n",
    )
    assert _with_db(db_url, path) == []


def _create_table_file(tmp_path: Path) -> str:
    return write(
        tmp_path,
        "0002_invoices.yaml",
        "- create_table:\n"
        "    table: invoices\n"
        "    columns:\n"
        "      - {name: id, type: bigint, primary_key: true}\n",
    )


def test_a_migration_files_create_table_against_the_database(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path, roles: tuple[str, str]
) -> None:
    app, _ = roles
    db.execute("CREATE TABLE customers (id bigint PRIMARY KEY)")
    db.execute(sql.SQL("GRANT SELECT, INSERT ON customers TO {}").format(sql.Identifier(app)))
    path = _create_table_file(tmp_path)
    res = lint("--database-url", db_url, path, *RULE)
    assert res.exit_code == 1
    assert (
        f"warning ZD110 new-table-without-grants: table public.invoices gets no privileges for "
        f"{app}, which has SELECT, INSERT on the other tables of schema public"
    ) in res.stdout
    db.execute(
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO {}"
        ).format(sql.Identifier(app))
    )
    res = lint("--database-url", db_url, path, *RULE)
    assert res.exit_code == 0, res.stdout
    assert res.stdout.startswith("no problems (1 file, ")


def test_a_snapshot_keeps_the_default_privileges_for_offline_lint(
    db: psycopg.Connection[Any], db_url: str, tmp_path: Path, roles: tuple[str, str]
) -> None:
    """``zdmigrate snapshot`` in CI, then lint without the database: same findings."""
    app, _ = roles
    db.execute("CREATE TABLE customers (id bigint PRIMARY KEY)")
    db.execute(sql.SQL("GRANT SELECT ON customers TO {}").format(sql.Identifier(app)))
    path = _create_table_file(tmp_path)
    snapshot = str(tmp_path / "schema.json")
    assert zdm("--database-url", db_url, "snapshot", "-o", snapshot).exit_code == 0
    assert [f["rule"] for f in _found("--schema-file", snapshot, path)] == [
        "new-table-without-grants"
    ]
    db.execute(
        sql.SQL("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {}").format(sql.Identifier(app))
    )
    assert zdm("--database-url", db_url, "snapshot", "-o", snapshot).exit_code == 0
    assert _found("--schema-file", snapshot, path) == []
