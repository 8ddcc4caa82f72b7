"""What the linted set grants on tables: privileges by schema, and default privileges.

Read from GRANT and REVOKE on tables (``ON ALL TABLES IN SCHEMA`` too) and from
ALTER DEFAULT PRIVILEGES ... ON TABLES. Role membership is not followed here;
a database can do that (``pg_has_role``). The model keys its reads the way
``Known`` does (``asked``), so runs of sources linted apart merge exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zdmigrate.lint._context import Context
    from zdmigrate.lint.source import Statement

__all__ = [
    "ANY_TABLE",
    "DEFAULTS_KEY",
    "DefaultFacts",
    "GrantFacts",
    "Privileges",
    "default_facts",
    "grant_facts",
    "grants_key",
    "learn_privileges",
    "privilege_list",
]

# GRANT ALL on a table, in the order PostgreSQL lists privileges (MAINTAIN from 17)
_ALL = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
_ORDER = (*_ALL, "MAINTAIN")
ANY_TABLE = "*"  # what ON ALL TABLES IN SCHEMA granted
DEFAULTS_KEY = "default privileges"
# the role running the migration: the owner of what it creates
_SELF = frozenset({"ROLESPEC_CURRENT_USER", "ROLESPEC_CURRENT_ROLE", "ROLESPEC_SESSION_USER"})


def grants_key(schema: str) -> str:
    return f"grants {schema}"


def privilege_list(privileges: set[str] | frozenset[str]) -> str:
    """``SELECT, INSERT, UPDATE`` in PostgreSQL's order."""
    known = [p for p in _ORDER if p in privileges]
    return ", ".join([*known, *sorted(privileges - set(_ORDER))])


def _privileges(items: Any, pg_version: int) -> frozenset[str]:
    if not items:
        return frozenset(_ALL + (("MAINTAIN",) if pg_version >= 17 else ()))
    return frozenset(str(p.priv_name).upper() for p in items if p.priv_name)


def _roles(grantees: Any) -> tuple[str, ...]:
    """Grantees by name, ``PUBLIC``; the migration's own role (CURRENT_USER ...) left out."""
    out = []
    for spec in grantees or ():
        if spec.roletype == "ROLESPEC_PUBLIC":
            out.append("PUBLIC")
        elif spec.roletype not in _SELF and spec.rolename:
            out.append(str(spec.rolename))
    return tuple(out)


@dataclass(frozen=True)
class GrantFacts:
    """What one GRANT or REVOKE on tables says."""

    grant: bool
    tables: tuple[tuple[str, str], ...]  # (schema, or "" when unqualified; name)
    all_in: tuple[str, ...]  # the schemas of ON ALL TABLES IN SCHEMA
    privileges: frozenset[str]
    roles: tuple[str, ...]

    def names(self, schema: str, name: str) -> bool:
        """Whether it is on table ``schema.name`` (an unqualified name matches any schema)."""
        if schema in self.all_in:
            return True
        return any(t == name and s in ("", schema) for s, t in self.tables)


def grant_facts(node: Any, pg_version: int) -> GrantFacts | None:
    """A GrantStmt on tables, else None (sequences, functions, schemas ...)."""
    if node is None or node.objtype != "OBJECT_TABLE":
        return None
    tables: list[tuple[str, str]] = []
    all_in: list[str] = []
    if node.targtype == "ACL_TARGET_ALL_IN_SCHEMA":
        all_in = [str(s.sval) for s in node.objects or ()]
    elif node.targtype == "ACL_TARGET_OBJECT":
        tables = [(str(r.schemaname or ""), str(r.relname)) for r in node.objects or ()]
    else:
        return None
    privileges = _privileges(node.privileges, pg_version)
    return GrantFacts(
        bool(node.is_grant), tuple(tables), tuple(all_in), privileges, _roles(node.grantees)
    )


@dataclass(frozen=True)
class DefaultFacts:
    """What one ALTER DEFAULT PRIVILEGES ... ON TABLES says."""

    grant: bool
    for_roles: tuple[str, ...]  # FOR ROLE; "" is the role that runs it
    schemas: tuple[str, ...]  # IN SCHEMA; "" is every schema
    privileges: frozenset[str]
    roles: tuple[str, ...]


def default_facts(node: Any, pg_version: int) -> DefaultFacts | None:
    action = node.action if node is not None else None
    if action is None or action.objtype != "OBJECT_TABLE":
        return None
    for_roles: tuple[str, ...] = ("",)
    schemas: tuple[str, ...] = ("",)
    for opt in node.options or ():
        if opt.defname == "schemas":
            schemas = tuple(str(s.sval) for s in opt.arg or ())
        elif opt.defname == "roles":
            specs = opt.arg or ()
            for_roles = tuple("" if r.roletype in _SELF else str(r.rolename) for r in specs)
    privileges = _privileges(action.privileges, pg_version)
    return DefaultFacts(
        bool(action.is_grant), for_roles, schemas, privileges, _roles(action.grantees)
    )


Roles = dict[str, set[str]]


@dataclass
class Privileges:
    """Table privileges the linted set granted, and its default privileges for tables."""

    # schema -> table (ANY_TABLE for ON ALL TABLES IN SCHEMA) -> role -> privileges
    tables: dict[str, dict[str, Roles]] = field(default_factory=dict)
    # (FOR ROLE or "", IN SCHEMA or "") -> role -> privileges on tables created later
    defaults: dict[tuple[str, str], Roles] = field(default_factory=dict)

    def keys(self) -> set[str]:
        found = {grants_key(s) for s, t in self.tables.items() if t}
        return found | ({DEFAULTS_KEY} if self.defaults else set())

    def on_others(self, schema: str, table: str) -> Roles:
        """Role -> what it has on the tables of ``schema`` other than ``table``."""
        out: Roles = {}
        for name, roles in self.tables.get(schema, {}).items():
            if name != table:
                for role, privileges in roles.items():
                    out.setdefault(role, set()).update(privileges)
        return {r: p for r, p in out.items() if p}

    def for_new_tables(self, schema: str, creator: Any) -> Roles:
        """Role -> what default privileges give it on a table ``schema`` gets; ``creator``
        says whether a FOR ROLE name is the role that creates it."""
        out: Roles = {}
        for (for_role, in_schema), roles in self.defaults.items():
            if in_schema in ("", schema) and (not for_role or creator(for_role)):
                for role, privileges in roles.items():
                    out.setdefault(role, set()).update(privileges)
        return {r: p for r, p in out.items() if p}

    def apply_grant(self, facts: GrantFacts, schema_of: Any) -> None:
        targets = [(schema_of(s), t) for s, t in facts.tables]
        targets += [(s, ANY_TABLE) for s in facts.all_in]
        for schema, table in targets:
            roles = self.tables.setdefault(schema, {}).setdefault(table, {})
            _change(roles, facts.roles, facts.privileges, facts.grant)
        if not facts.grant:  # ALL TABLES IN SCHEMA revokes from every table there
            for schema in facts.all_in:
                for roles in self.tables.get(schema, {}).values():
                    _change(roles, facts.roles, facts.privileges, False)

    def apply_default(self, facts: DefaultFacts) -> None:
        for for_role in facts.for_roles:
            for schema in facts.schemas:
                roles = self.defaults.setdefault((for_role, schema), {})
                _change(roles, facts.roles, facts.privileges, facts.grant)

    def has_table(self, schema: str, table: str) -> bool:
        """Whether ``schema.table`` was granted anything."""
        return any(self.tables.get(schema, {}).get(table, {}).values())

    def forget(self, schema: str, table: str) -> Roles:
        """Drop (and return) what ``schema.table`` was granted."""
        return self.tables.get(schema, {}).pop(table, {})

    def merge(self, later: Privileges) -> None:
        """Add what a run that asked about none of these schemas learned."""
        for schema, tables in later.tables.items():
            for table, roles in tables.items():
                mine = self.tables.setdefault(schema, {}).setdefault(table, {})
                for role, privileges in roles.items():
                    mine.setdefault(role, set()).update(privileges)
        for key, roles in later.defaults.items():
            mine = self.defaults.setdefault(key, {})
            for role, privileges in roles.items():
                mine.setdefault(role, set()).update(privileges)


def _change(roles: Roles, names: tuple[str, ...], privileges: frozenset[str], grant: bool) -> None:
    for name in names:
        if grant:
            roles.setdefault(name, set()).update(privileges)
        elif name in roles:
            roles[name] -= privileges


def _split(key: str, ctx: Context) -> tuple[str, str]:
    schema, _, name = key.rpartition(".")
    return ctx.schema_of(schema), name


def _learn_grant(stmt: Statement, ctx: Context) -> None:
    facts = grant_facts(stmt.node, ctx.pg_version)
    if facts is None:
        return
    model = ctx.known.privileges
    if not facts.grant:  # what it takes away depends on what was known
        schemas = {ctx.schema_of(s) for s, _ in facts.tables} | set(facts.all_in)
        ctx.known.asked.update(grants_key(s) for s in schemas)
    model.apply_grant(facts, ctx.schema_of)


def _learn_default(stmt: Statement, ctx: Context) -> None:
    facts = default_facts(stmt.node, ctx.pg_version)
    if facts is not None:
        if not facts.grant:
            ctx.known.asked.add(DEFAULTS_KEY)
        ctx.known.privileges.apply_default(facts)


def _learn_table(stmt: Statement, ctx: Context) -> None:
    """A new table has no grants; a dropped one loses them, a renamed one keeps them."""
    from zdmigrate.lint._context import rel_key

    node, model = stmt.node, ctx.known.privileges
    if stmt.tag in ("CreateStmt", "CreateTableAsStmt") and node.if_not_exists:
        return  # a table that is there keeps its grants; a new one has none anyway
    if stmt.tag == "CreateStmt":
        model.forget(*_split(rel_key(node.relation), ctx))
    elif stmt.tag == "CreateTableAsStmt" and node.into is not None:
        model.forget(*_split(rel_key(node.into.rel), ctx))
    elif stmt.tag == "DropStmt" and node.removeType == "OBJECT_TABLE":
        for names in node.objects or ():
            schema, table = _split(".".join(str(n.sval) for n in names), ctx)
            ctx.known.asked.add(grants_key(schema))
            model.forget(schema, table)
    elif stmt.tag == "RenameStmt" and node.renameType == "OBJECT_TABLE" and node.relation:
        schema, table = _split(rel_key(node.relation), ctx)
        ctx.known.asked.add(grants_key(schema))
        roles = model.forget(schema, table)
        if roles:
            model.tables.setdefault(schema, {})[str(node.newname)] = roles


_TABLE_TAGS = frozenset({"CreateStmt", "CreateTableAsStmt", "DropStmt", "RenameStmt"})


def learn_privileges(stmt: Statement, ctx: Context) -> None:
    """Record what ``stmt`` grants, revokes or sets as default privileges."""
    if stmt.node is None:
        return
    if stmt.tag == "GrantStmt":
        _learn_grant(stmt, ctx)
    elif stmt.tag == "AlterDefaultPrivilegesStmt":
        _learn_default(stmt, ctx)
    elif stmt.tag in _TABLE_TAGS:
        _learn_table(stmt, ctx)
