"""The GRANTs and REVOKEs of a ``sql`` operation, as zdmigrate models them, are what the
server does with them: the model of a table's privileges after the statements equals
the privileges read back from the server after running them.

The version schema's views take their grants from this model (they are created
after the operation's SQL has run), so a difference here is a view the new app
cannot use, or one that grants what the table does not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.conftest import drop_login_roles, login_role
from tests.pgserver import Server
from zdmigrate.engine.introspect import introspect
from zdmigrate.ops.raw_sql import grant_changes

CASES = [
    # (what runs first, as the table's owner; the statements modelled)
    ("", "GRANT SELECT, INSERT ON shop.t TO {a}, PUBLIC"),
    ("", "GRANT ALL ON shop.t TO {a}"),
    ("", "GRANT SELECT (id, v), UPDATE (v) ON shop.t TO {a} WITH GRANT OPTION"),
    ("", "GRANT ALL (v) ON shop.t TO {a}"),
    ("", "GRANT SELECT ON ALL TABLES IN SCHEMA shop TO {a}"),
    ("GRANT SELECT, UPDATE ON shop.t TO {a}", "REVOKE UPDATE ON shop.t FROM {a}"),
    # a table-level REVOKE takes the column privileges of that kind too
    ("GRANT SELECT (v), UPDATE (v) ON shop.t TO {a}", "REVOKE SELECT ON shop.t FROM {a}"),
    ("GRANT SELECT (id, v) ON shop.t TO {a}", "REVOKE SELECT (v) ON shop.t FROM {a}"),
    (
        "GRANT SELECT ON shop.t TO {a} WITH GRANT OPTION",
        "REVOKE GRANT OPTION FOR SELECT ON shop.t FROM {a}",
    ),
    ("GRANT SELECT ON shop.t TO {a} WITH GRANT OPTION", "GRANT SELECT ON shop.t TO {a}"),
    ("GRANT SELECT ON shop.t TO {a}", "GRANT SELECT ON shop.t TO {a} WITH GRANT OPTION"),
    ("GRANT ALL ON shop.t TO {a}", "REVOKE ALL ON shop.t FROM {a}"),
    # another table's grants change nothing here
    ("", "GRANT SELECT ON shop.other TO {a}"),
]


@pytest.fixture
def app(migrator_url: str, pg_server: Server) -> Iterator[tuple[str, str]]:
    role = f"zdm_app_{uuid.uuid4().hex[:8]}"
    login_role(pg_server.admin_url, role)
    with psycopg.connect(migrator_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA shop")
        conn.execute("CREATE TABLE shop.t (id int PRIMARY KEY, v int)")
        conn.execute("CREATE TABLE shop.other (id int PRIMARY KEY)")
    try:
        yield migrator_url, role
    finally:
        database = psycopg.conninfo.conninfo_to_dict(migrator_url)["dbname"]
        drop_login_roles(pg_server.admin_url, str(database), role)


@pytest.mark.parametrize(("before", "statements"), CASES)
def test_the_model_of_grants_is_what_the_server_does(
    app: tuple[str, str], before: str, statements: str
) -> None:
    url, role = app
    quoted = sql.Identifier(role).as_string()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("REVOKE ALL ON shop.t, shop.other FROM PUBLIC")
        if before:
            conn.execute(before.format(a=quoted))
        major = conn.info.server_version // 10000
        start = introspect(conn, "shop").tables["t"].grants
        text = statements.format(a=quoted)
        conn.execute(text)
        after = introspect(conn, "shop").tables["t"].grants
    modelled = start
    for change in grant_changes(text, "shop", ["t", "other"], major):
        if change.table == "t":
            modelled = change.applied(modelled)
    assert sorted(modelled, key=lambda g: g.sort_key()) == sorted(after, key=lambda g: g.sort_key())
