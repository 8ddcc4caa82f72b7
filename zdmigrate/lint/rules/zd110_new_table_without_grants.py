"""A new table that the app's roles get no privileges on breaks the code that uses it.

## Problem

A table belongs to the role that creates it, and no one else may use it until
it is granted. The app usually connects as roles of its own (`app_rw`,
`app_ro`) that have privileges on the other tables of the schema. A
migration that creates a table and grants those roles nothing deploys fine;
the new version's first query of the table then fails with `permission
denied for table ...`.

## Why

The app's roles are the roles other than the owner that hold privileges on
other tables of the new table's schema, as the database says (with
`--database-url`: table and column grants), as a `--schema-file` says, and as
the `GRANT` statements of the linted set say (earlier migrations are taken
as deployed; grants on other tables in the same migration count too).

A role is covered when the same migration grants it anything on the table
after creating it (`GRANT ... ON t` or `ON ALL TABLES IN SCHEMA`), when the
table is granted to `PUBLIC`, or when default privileges give it something
on new tables of the schema: `ALTER DEFAULT PRIVILEGES [FOR ROLE r] [IN
SCHEMA s] GRANT ... ON TABLES` before the `CREATE TABLE` in the linted set,
those of a `zdmigrate snapshot` file, or, with `--database-url`, those in the
database of the role lint connects as (give lint the migration role's URL).
With a database, a member of a covered role that inherits its privileges is
covered too; offline, role membership is not followed, and `FOR ROLE` is
taken to name the role that runs the migration.

Without a database, a schema file or a `GRANT` on the schema's tables in the
linted set, the app's roles are unknown and nothing is reported.
`CREATE TABLE ... AS`, Alembic's `op.create_table` and the `create_table`
steps of zdmigrate migration files are checked; temporary tables and
partitions (privileges are checked on the partitioned table) are not.

## Safe alternative

Grant the roles what they have on the other tables, in the same migration
after the `CREATE TABLE`, or once give them default privileges for the
tables the migration role creates in the schema. zdmigrate's `create_table`
relies on the second: PostgreSQL gives the table the schema's default
privileges, and the version schema's view of it gets the same (a `GRANT`
on the table alone leaves the view without it). Run it once, in a migration
of its own, before the tables it should cover:

```yaml
- sql:
    up: >-
      ALTER DEFAULT PRIVILEGES IN SCHEMA public
      GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO app_rw
    down: >-
      ALTER DEFAULT PRIVILEGES IN SCHEMA public
      REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM app_rw
```
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._context import Context
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint._privileges import (
    DEFAULTS_KEY,
    GrantFacts,
    grant_facts,
    grants_key,
    privilege_list,
)
from zdmigrate.lint.rules._util import BREAKING, define
from zdmigrate.lint.source import Statement

Roles = dict[str, set[str]]
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")


def _created(stmt: Statement) -> Any:
    """The RangeVar of the table a CREATE TABLE [AS] makes, or None for temporary
    tables, partitions and materialized views."""
    node = stmt.node
    if stmt.tag == "CreateStmt":
        rel = node.relation if node.partbound is None else None
    elif node.objtype == "OBJECT_TABLE" and node.into is not None:
        rel = node.into.rel
    else:
        return None
    return rel if rel is not None and rel.relpersistence != "t" else None


def _grants(ctx: Context) -> list[tuple[int, GrantFacts]]:
    """(offset, facts) of every GRANT on tables in the migration being linted."""
    found: list[tuple[int, GrantFacts]] | None = ctx.source_facts.get("grants")
    if found is None:
        found = ctx.source_facts["grants"] = [
            (s.start, f)
            for s in ctx.statements
            if s.tag == "GrantStmt"
            and (f := grant_facts(s.node, ctx.pg_version)) is not None
            and f.grant
        ]
    return found


def _add(into: Roles, roles: dict[str, Any]) -> None:
    for role, privileges in roles.items():
        into.setdefault(role, set()).update(privileges)


def _app_roles(ctx: Context, schema: str, table: str) -> Roles:
    """Role -> what it has on the other tables of ``schema``: in the database, in the
    linted set so far, and in the rest of this migration."""
    ctx.known.asked.add(grants_key(schema))
    out: Roles = {}
    _add(out, ctx.known.privileges.on_others(schema, table))
    for _, facts in _grants(ctx):
        for s, t in facts.tables:
            if ctx.schema_of(s) == schema and t != table:
                _add(out, dict.fromkeys(facts.roles, facts.privileges))
        if schema in facts.all_in:
            _add(out, dict.fromkeys(facts.roles, facts.privileges))
    db = ctx.options.db
    if db is not None:
        _add(out, db.schema_grants(schema, table))
        out.pop(db.current_user(), None)
    return out


def _given(stmt: Statement, ctx: Context, schema: str, table: str) -> set[str]:
    """Roles that get something on the new table: later grants in this migration,
    default privileges of the linted set and of the database."""
    ctx.known.asked.add(DEFAULTS_KEY)
    db = ctx.options.db
    me = db.current_user() if db is not None else None
    given = set(ctx.known.privileges.for_new_tables(schema, lambda r: me is None or r == me))
    for start, facts in _grants(ctx):
        if start > stmt.start and facts.names(schema, table):
            given.update(facts.roles)
    if db is not None:
        given.update(db.default_grants(schema))
    return given


def _covered(ctx: Context, role: str, given: set[str]) -> bool:
    if role in given or "PUBLIC" in given:
        return True
    db = ctx.options.db
    return db is not None and role != "PUBLIC" and any(db.member_of(role, g) for g in given)


def _ident(name: str) -> str:
    """A role, schema or table name as SQL would need it written."""
    if name == "PUBLIC" or _PLAIN.fullmatch(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _by_privileges(missing: Roles) -> list[tuple[str, str]]:
    """(privilege list, roles) for the GRANTs that fix it, roles with the same list together."""
    groups: dict[str, list[str]] = {}
    for role in sorted(missing):
        groups.setdefault(privilege_list(missing[role]), []).append(_ident(role))
    return [(privileges, ", ".join(roles)) for privileges, roles in groups.items()]


def _violation(schema: str, table: str, missing: Roles, offset: int | None) -> Violation:
    name = f"{_ident(schema)}.{_ident(table)}"
    if len(missing) == 1:
        ((role, privileges),) = missing.items()
        who = f"{role}, which has {privilege_list(privileges)}"
    else:
        each = [f"{r} ({privilege_list(p)})" for r, p in sorted(missing.items())]
        who = f"{', '.join(each[:-1])} and {each[-1]}, which have these"
    message = (
        f"table {schema}.{table} gets no privileges for {who} "
        f"on the other tables of schema {schema}"
    )
    groups = _by_privileges(missing)
    grants = "; ".join(f"GRANT {p} ON {name} TO {r}" for p, r in groups)
    defaults = "; ".join(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_ident(schema)} GRANT {p} ON TABLES TO {r}"
        for p, r in groups
    )
    return Violation(message, f"{grants} in the same migration, or {defaults} once", offset)


def _there(stmt: Statement, ctx: Context, schema: str, table: str) -> bool:
    """CREATE TABLE IF NOT EXISTS of a table that exists: in the database, or created or
    granted on by the linted set."""
    if not stmt.node.if_not_exists:
        return False
    db = ctx.options.db
    if db is not None and db.table(f"{schema}.{table}") is not None:
        return True
    key = table if schema == "public" else f"{schema}.{table}"
    return bool(ctx.known.column_names(key)) or ctx.known.privileges.has_table(schema, table)


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    rel = _created(stmt)
    if rel is None:
        return
    schema, table = ctx.schema_of(rel.schemaname), str(rel.relname)
    if _there(stmt, ctx, schema, table):
        return
    wanted = _app_roles(ctx, schema, table)
    if not wanted:
        return
    given = _given(stmt, ctx, schema, table)
    missing = {r: p for r, p in wanted.items() if not _covered(ctx, r, given)}
    if missing:
        yield _violation(schema, table, missing, rel.location)


RULE = define(
    __doc__,
    code="ZD110",
    name="new-table-without-grants",
    category=BREAKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("CreateStmt", "CreateTableAsStmt"),
)
