"""The app connects as roles of its own, with table and column grants: privileges follow
the table into the version schema, and a role that cannot use it never loses a write.

As production runs: the migration role owns the tables and is not a superuser,
the tables live in schema ``shop``, the app role ``*_app`` has table grants, a
reporting role has column grants only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

from tests.cli_helpers import Project
from tests.conftest import drop_login_roles, login_role
from tests.pgserver import Server

CHANGE = """
- rename_column: {table: users, from: email, to: email_address}
- alter_column: {table: users, column: n, type: bigint}
"""
VSCHEMA = "shop_0002_users"
NEW_PATH = f"{VSCHEMA},shop"


@dataclass
class Roles:
    migrator_url: str
    app: str
    reporting: str
    folder: Path

    def url(self, role: str) -> str:
        return psycopg.conninfo.make_conninfo(self.migrator_url, user=role)

    def connect(self, role: str, search_path: str = "shop", **kw: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.url(role), autocommit=True, options=f"-c search_path={search_path}", **kw
        )

    @property
    def project(self) -> Project:
        return Project(self.migrator_url, self.folder)

    def rows(self) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.migrator_url) as conn:
            return conn.execute("SELECT * FROM shop.users ORDER BY id").fetchall()


@pytest.fixture
def roles(migrator_url: str, pg_server: Server, tmp_path: Path) -> Iterator[Roles]:
    tag = uuid.uuid4().hex[:8]
    r = Roles(migrator_url, f"zdm_app_{tag}", f"zdm_rep_{tag}", tmp_path)
    for role in (r.app, r.reporting):
        login_role(pg_server.admin_url, role)
    (tmp_path / "pyproject.toml").write_text('[tool.zdmigrate]\nschema = "shop"\n')
    (tmp_path / "0002_users.yaml").write_text(CHANGE)
    app, rep = sql.Identifier(r.app), sql.Identifier(r.reporting)
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA shop")
        conn.execute("CREATE TABLE shop.users (id int PRIMARY KEY, email text, n int)")
        conn.execute("INSERT INTO shop.users SELECT g, 'u' || g, g FROM generate_series(1, 5) g")
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA shop TO {}, {}").format(app, rep))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON shop.users TO {}").format(app))
        conn.execute(
            sql.SQL("GRANT SELECT (id, email, n), UPDATE (n) ON shop.users TO {}").format(rep)
        )
    try:
        yield r
    finally:
        database = psycopg.conninfo.conninfo_to_dict(migrator_url)["dbname"]
        drop_login_roles(pg_server.admin_url, str(database), r.app, r.reporting)


def test_the_plan_grants_the_version_schema_what_the_table_has(roles: Roles) -> None:
    plan = roles.project.ok("plan", str(roles.folder / "0002_users.yaml"), "--format", "sql").stdout
    app, rep = roles.app, roles.reporting
    assert f'GRANT USAGE ON SCHEMA "{VSCHEMA}" TO "{app}", "{rep}";' in plan
    assert f'GRANT INSERT, SELECT, UPDATE ON TABLE "{VSCHEMA}"."users" TO "{app}";' in plan
    # column grants under the view's names; the shadow column of n gets n's
    assert (
        f'GRANT SELECT ("email_address", "id", "n"), UPDATE ("n") ON TABLE "{VSCHEMA}"."users" '
        f'TO "{rep}";'
    ) in plan
    assert f'GRANT SELECT ("_zdm_n"), UPDATE ("_zdm_n") ON TABLE "shop"."users" TO "{rep}";' in plan


def test_app_roles_work_through_the_version_schema_and_keep_their_grants(roles: Roles) -> None:
    roles.project.ok("apply", str(roles.folder / "0002_users.yaml"))
    with roles.connect(roles.app, NEW_PATH) as new, roles.connect(roles.app) as old:
        assert new.execute("SELECT email_address, n FROM users WHERE id = 1").fetchone() == (
            "u1",
            1,
        )
        new.execute("UPDATE users SET n = 50 WHERE id = 2")
        old.execute("UPDATE users SET n = 7 WHERE id = 3")
    with roles.connect(roles.reporting, NEW_PATH) as rep:
        assert rep.execute("SELECT email_address FROM users WHERE id = 4").fetchone() == ("u4",)
        rep.execute("UPDATE users SET n = 40 WHERE id = 4")
        with pytest.raises(errors.InsufficientPrivilege):
            rep.execute("UPDATE users SET email_address = 'x' WHERE id = 4")
    roles.project.ok("complete", "0002_users")
    assert roles.rows() == [
        (1, "u1", 1),
        (2, "u2", 50),
        (3, "u3", 7),
        (4, "u4", 40),
        (5, "u5", 5),
    ]
    # on the final table: the renamed column kept its column grants, the retyped one too
    with roles.connect(roles.reporting) as rep:
        assert rep.execute("SELECT email_address, n FROM users WHERE id = 4").fetchone() == (
            "u4",
            40,
        )
        rep.execute("UPDATE users SET n = 41 WHERE id = 4")


def test_a_role_that_cannot_use_the_version_schema_loses_no_write(roles: Roles) -> None:
    """Without USAGE on the version schema PostgreSQL skips it in search_path: the
    session writes the old shape, and the trigger treats it as the old writer it is."""
    roles.project.ok("apply", str(roles.folder / "0002_users.yaml"))
    with psycopg.connect(roles.migrator_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("REVOKE USAGE ON SCHEMA {} FROM {}").format(
                sql.Identifier(VSCHEMA), sql.Identifier(roles.app)
            )
        )
    with roles.connect(roles.app, NEW_PATH) as lost:
        lost.execute("UPDATE users SET n = 5 WHERE id = 2")
        lost.execute("SET zdmigrate.version = '0002_users'")
        with pytest.raises(errors.InsufficientPrivilege) as refused:
            lost.execute("UPDATE users SET n = 6 WHERE id = 3")
    assert "does not use version schema shop_0002_users" in str(refused.value)
    assert refused.value.diag.message_hint is not None
    assert "GRANT USAGE ON SCHEMA shop_0002_users" in refused.value.diag.message_hint
    verify = roles.project.zdm("verify", "0002_users", "--format", "json")
    assert verify.exit_code == 0, verify.stdout
    roles.project.ok("complete", "0002_users")
    assert roles.rows()[1:3] == [(2, "u2", 5), (3, "u3", 3)]


def test_a_write_through_a_view_by_its_qualified_name_is_refused_not_lost(
    roles: Roles,
) -> None:
    """A session whose search_path does not list the version schema is the old version
    to the trigger, whose ``up`` fills the new columns from the old ones. When it writes
    the new shape anyway, through a view named with its schema, that would overwrite
    what it wrote: it gets a clear error instead. The old version's own writes, a row
    copied with ``INSERT ... SELECT *`` among them, go on."""
    roles.project.ok("apply", str(roles.folder / "0002_users.yaml"))
    view = f"{VSCHEMA}.users"
    with roles.connect(roles.app, "shop") as off_path:
        with pytest.raises(errors.ObjectNotInPrerequisiteState) as refused:
            off_path.execute(f"INSERT INTO {view} (id, email_address, n) VALUES (6, 'u6', 42)")
        with pytest.raises(errors.ObjectNotInPrerequisiteState):
            off_path.execute(f"UPDATE {view} SET n = 43 WHERE id = 2")
        # what the view writes without touching the new shape's own columns is the
        # same write through the table: the old version's, kept
        off_path.execute(f"UPDATE {view} SET email_address = 'x2' WHERE id = 2")
        off_path.execute("UPDATE users SET n = 7 WHERE id = 3")
    with psycopg.connect(roles.migrator_url, autocommit=True) as owner:
        owner.execute("SET search_path = shop")
        owner.execute("INSERT INTO users SELECT * FROM users WHERE id = 4 ON CONFLICT DO NOTHING")
        owner.execute("CREATE TABLE users_copy AS SELECT * FROM users WHERE id = 5")
        owner.execute("DELETE FROM users WHERE id = 5")
        owner.execute("INSERT INTO users SELECT * FROM users_copy")
        owner.execute("DROP TABLE users_copy")
    message = str(refused.value)
    assert "wrote n of shop.users through version schema shop_0002_users" in message
    assert refused.value.diag.message_hint is not None
    assert f"search_path={NEW_PATH}" in refused.value.diag.message_hint
    with roles.connect(roles.app, NEW_PATH) as new:  # on its path the same write is fine
        new.execute(f"INSERT INTO {view} (id, email_address, n) VALUES (6, 'u6', 42)")
    verify = roles.project.zdm("verify", "0002_users", "--format", "json")
    assert verify.exit_code == 0, verify.stdout
    roles.project.ok("complete", "0002_users")
    assert roles.rows() == [
        (1, "u1", 1),
        (2, "x2", 2),
        (3, "u3", 7),
        (4, "u4", 4),
        (5, "u5", 5),
        (6, "u6", 42),
    ]


def test_a_new_table_gets_the_default_privileges_in_its_view(roles: Roles) -> None:
    migrator = psycopg.conninfo.conninfo_to_dict(roles.migrator_url)["user"]
    with psycopg.connect(roles.migrator_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA shop GRANT SELECT ON TABLES TO {}"
            ).format(sql.Identifier(migrator), sql.Identifier(roles.app))
        )
    (roles.folder / "0003_orders.yaml").write_text(
        "- create_table:\n    table: orders\n    columns:\n"
        "      - {name: id, type: bigint, primary_key: true}\n"
    )
    res = roles.project.ok("apply", str(roles.folder / "0003_orders.yaml"), "--format", "json")
    assert json.loads(res.stdout)["phase"] == "expanded"
    with roles.connect(roles.app, "shop_0003_orders,shop") as new:
        assert new.execute("SELECT count(*) FROM orders").fetchone() == (0,)
        assert new.execute("SELECT count(*) FROM users").fetchone() == (5,)


def test_grants_in_a_sql_operation_reach_the_new_versions_views(roles: Roles) -> None:
    """A migration that creates a table and grants it in a ``sql`` operation (no default
    privileges): the view of the new table gets those grants, so the new app can use
    it; ON ALL TABLES IN SCHEMA reaches every table's view, the new one's too."""
    app, rep = roles.app, roles.reporting
    (roles.folder / "0003_notes.yaml").write_text(
        "- create_table:\n    table: notes\n    columns:\n"
        "      - {name: id, type: bigint, primary_key: true}\n"
        "      - {name: body, type: text}\n"
        f'- sql:\n    up: GRANT SELECT, INSERT ON shop.notes TO "{app}";'
        f' GRANT SELECT ON ALL TABLES IN SCHEMA shop TO "{rep}";'
        f' REVOKE UPDATE ON shop.users FROM "{app}"\n'
    )
    path = str(roles.folder / "0003_notes.yaml")
    plan = roles.project.ok("plan", path, "--format", "sql").stdout
    vschema = "shop_0003_notes"
    assert f'GRANT INSERT, SELECT ON TABLE "{vschema}"."notes" TO "{app}";' in plan
    assert f'GRANT SELECT ON TABLE "{vschema}"."notes" TO "{rep}";' in plan
    # the revoked UPDATE is not given to the view of users
    assert f'GRANT INSERT, SELECT ON TABLE "{vschema}"."users" TO "{app}";' in plan
    roles.project.ok("apply", path)
    with roles.connect(app, f"{vschema},shop") as new:
        new.execute("INSERT INTO notes VALUES (1, 'hello')")
        assert new.execute("SELECT body FROM notes").fetchone() == ("hello",)
        with pytest.raises(errors.InsufficientPrivilege):
            new.execute("UPDATE users SET n = 1 WHERE id = 1")
    with roles.connect(rep, f"{vschema},shop") as reporting:
        assert reporting.execute("SELECT count(*) FROM notes").fetchone() == (1,)
        assert reporting.execute("SELECT count(*) FROM users").fetchone() == (5,)


def test_a_role_that_has_its_grants_through_membership_uses_the_new_version(
    roles: Roles, pg_server: Server
) -> None:
    """The grants go to the role that has them on the table (a group); its members reach
    the views through it, as they reach the table."""
    group, member = f"{roles.app}_grp", f"{roles.app}_mem"
    login_role(pg_server.admin_url, group)
    login_role(pg_server.admin_url, member)
    database = psycopg.conninfo.conninfo_to_dict(roles.migrator_url)["dbname"]
    try:
        here = psycopg.conninfo.make_conninfo(pg_server.admin_url, dbname=str(database))
        with psycopg.connect(here, autocommit=True) as admin:
            admin.execute(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(member))
            )
        with psycopg.connect(roles.migrator_url, autocommit=True) as conn:
            g = sql.Identifier(group)
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA shop TO {}").format(g))
            conn.execute(sql.SQL("GRANT SELECT, UPDATE ON shop.users TO {}").format(g))
        plan = roles.project.ok("plan", str(roles.folder / "0002_users.yaml"), "--format", "sql")
        assert f'GRANT SELECT, UPDATE ON TABLE "{VSCHEMA}"."users" TO "{group}";' in plan.stdout
        roles.project.ok("apply", str(roles.folder / "0002_users.yaml"))
        with roles.connect(member, NEW_PATH) as new:
            new.execute("UPDATE users SET n = 70, email_address = 'm5' WHERE id = 5")
        roles.project.ok("complete", "0002_users")
        assert roles.rows()[4] == (5, "m5", 70)
    finally:
        drop_login_roles(pg_server.admin_url, str(database), member, group)


def test_a_migration_role_that_does_not_own_the_table_gets_one_line(roles: Roles) -> None:
    """The app role may write the table but does not own it: apply stops on its first
    change with the server's reason, undoes what it did, and the table is as it was."""
    with psycopg.connect(roles.migrator_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(
                    str(psycopg.conninfo.conninfo_to_dict(roles.migrator_url)["dbname"])
                ),
                sql.Identifier(roles.app),
            )
        )
        conn.execute(sql.SQL("GRANT CREATE ON SCHEMA shop TO {}").format(sql.Identifier(roles.app)))
        before = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'shop' ORDER BY ordinal_position"
        ).fetchall()
    res = Project(roles.url(roles.app), roles.folder).zdm(
        "apply", str(roles.folder / "0002_users.yaml")
    )
    assert res.exit_code == 2, res.stdout
    line = res.stderr.strip().splitlines()[-1]  # after the progress of the steps that ran
    assert line.startswith("error: 0002_users: add new columns and the dual-write trigger to ")
    assert "must be owner of table users" in line
    assert "every change of this migration was undone" in line
    assert "(hint: run as the owner of the tables, or grant the missing privilege)" in line
    with psycopg.connect(roles.migrator_url) as conn:
        after = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'shop' ORDER BY ordinal_position"
        ).fetchall()
        assert conn.execute("SELECT to_regnamespace(%s)", (VSCHEMA,)).fetchone() == (None,)
        counters = "SELECT count(*) FROM pg_class WHERE relname LIKE '\\_zdm\\_writes%%'"
        assert conn.execute(counters).fetchone() == (0,)
    assert after == before


def _acls(url: str) -> list[tuple[Any, ...]]:
    """The table's and its columns' privileges."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT a.attname, a.attacl::text[], c.relacl::text[] FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid WHERE a.attrelid = 'shop.users'::regclass "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
        ).fetchall()


def test_rollback_leaves_the_tables_grants_as_they_were(roles: Roles) -> None:
    before = _acls(roles.migrator_url)
    roles.project.ok("apply", str(roles.folder / "0002_users.yaml"))
    assert _acls(roles.migrator_url) != before  # the shadow column got n's column grants
    roles.project.ok("rollback", "0002_users")
    assert _acls(roles.migrator_url) == before
    with roles.connect(roles.reporting) as rep:
        rep.execute("UPDATE users SET n = 9 WHERE id = 1")
        assert rep.execute("SELECT email FROM users WHERE id = 1").fetchone() == ("u1",)
