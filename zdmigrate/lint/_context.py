"""What rules know beyond one statement: new objects, transactions, settings, the database."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zdmigrate.lint._known import Known
from zdmigrate.lint.violation import Severity, Violation

if TYPE_CHECKING:
    from zdmigrate.lint.dbfacts import DbFacts, TableFacts
    from zdmigrate.lint.source import Statement

__all__ = ["Context", "LockHeld", "Options", "rel_key"]

DEFAULT_PG_VERSION = 15


@dataclass(frozen=True)
class Options:
    """How to read the sources: server version, transaction wrapping, a database."""

    pg_version: int = DEFAULT_PG_VERSION
    assume_in_transaction: bool = False
    db: DbFacts | None = None
    # what a --schema-file says of the tables before the first migration
    schema: Known | None = None

    def start_known(self) -> Known:
        """A fresh copy of what is known before the first source."""
        return copy.deepcopy(self.schema) if self.schema is not None else Known()


@dataclass(frozen=True)
class LockHeld:
    table: str
    lock: str
    line: int


def rel_key(rel: Any) -> str:
    """``schema.name`` or ``name`` of a RangeVar (as the parser folded it)."""
    if rel is None:
        return ""
    if isinstance(rel, str):
        return rel
    key: str | None = rel.fields.get(" key")
    if key is None:
        schema = rel.schemaname
        key = rel.fields[" key"] = f"{schema}.{rel.relname}" if schema else str(rel.relname)
    return key


def _bare(key: str) -> str:
    return key.rsplit(".", 1)[-1]


@dataclass
class Context:
    """State the runner keeps while it walks the statements of a linted set, in order.

    New objects are those created by the migration (source) being linted: the
    earlier migrations of the linted set are deployed, so their tables are used
    by the app, but what they say about those tables is kept in ``known``.
    """

    options: Options = field(default_factory=Options)
    new_tables: set[str] = field(default_factory=set)
    new_indexes: set[str] = field(default_factory=set)
    new_schemas: set[str] = field(default_factory=set)
    # tables created in the open transaction (no one else can have rows in them)
    tx_tables: set[str] = field(default_factory=set)
    known: Known = field(default_factory=Known)
    in_transaction: bool = False
    lock_timeout_session: bool = False
    lock_timeout_local: bool = False
    strong_lock: LockHeld | None = None
    strong_lock_reported: bool = False
    lock_timeout_reported: bool = False
    statement_timeout_session: bool = False
    statement_timeout_local: bool = False
    statement_timeout_reported: bool = False
    not_valid: set[tuple[str, str]] = field(default_factory=set)
    # the statements of the source being linted (for rules that look ahead in the
    # migration), and what rules computed from them
    statements: list[Statement] = field(default_factory=list)
    source_facts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.options.schema is not None and not self.known.tables():
            self.known = self.options.start_known()

    @property
    def pg_version(self) -> int:
        return self.options.pg_version

    @property
    def lock_timeout_set(self) -> bool:
        return self.lock_timeout_session or (self.lock_timeout_local and self.in_transaction)

    @property
    def statement_timeout_set(self) -> bool:
        local = self.statement_timeout_local and self.in_transaction
        return self.statement_timeout_session or local

    def schema_of(self, schema: str | None) -> str:
        """The schema of a name qualified with ``schema``: unqualified, the database's
        current schema, else ``public``."""
        if schema:
            return schema
        db = self.options.db
        return db.current_schema() if db is not None else "public"

    def is_new(self, rel: Any) -> bool:
        """True for a table created earlier in this migration (no one else can use it yet)."""
        return self.is_new_key(rel_key(rel))

    def is_new_key(self, key: str) -> bool:
        """Created earlier in this migration, and (with a database) not there already."""
        bare = _bare(key)
        if not self.new_tables:
            return False
        if key not in self.new_tables and bare not in self.new_tables:
            return False
        db = self.options.db
        return db is None or db.table(key) is None

    def is_new_index(self, *names: str) -> bool:
        """An index created earlier in this migration, by any of ``names``."""
        return any(name in self.new_indexes for name in names)

    def is_new_schema(self, name: str) -> bool:
        """A schema created earlier in this migration."""
        return name in self.new_schemas

    def in_transaction_table(self, key: str) -> bool:
        """A table created earlier in the open transaction."""
        return key in self.tx_tables or _bare(key) in self.tx_tables

    def add_new_table(self, rel: Any) -> None:
        key = rel_key(rel)
        if not key:
            return
        self.new_tables.update((key, _bare(key)))
        if self.in_transaction:
            self.tx_tables.update((key, _bare(key)))

    def table(self, rel: Any) -> TableFacts | None:
        db = self.options.db
        return db.table(rel_key(rel)) if db is not None and rel is not None else None

    def is_empty(self, rel: Any) -> bool:
        facts = self.table(rel)
        return facts is not None and facts.rows == 0

    def begin_source(self, wrapped: bool | None) -> None:
        self.in_transaction = self.options.assume_in_transaction if wrapped is None else wrapped
        self.lock_timeout_session = False
        self.lock_timeout_reported = False
        self.statement_timeout_session = False
        self.statement_timeout_reported = False
        self.new_tables = set()
        self.new_indexes = set()
        self.new_schemas = set()
        self.statements = []
        self.source_facts = {}
        self.end_transaction()

    def end_transaction(self) -> None:
        self.lock_timeout_local = False
        self.statement_timeout_local = False
        self.strong_lock = None
        self.strong_lock_reported = False
        self.not_valid.clear()
        self.tx_tables = set()

    def on_table(
        self,
        rel: Any,
        message: str,
        help_: str,
        severity: Severity | None = None,
        offset: int | None = None,
    ) -> Violation:
        """A violation about an existing table, graded by its size when a database is known."""
        facts = self.table(rel)
        if facts is None:
            return Violation(message, help_, offset, severity)
        return Violation(f"{message} ({facts.describe()})", help_, offset, facts.grade(severity))
