"""More statements run while a transaction holds a strong lock on a busy table.

## Problem

A lock is held until the transaction ends. When a migration takes SHARE or
a stronger lock on an existing table and then runs more statements in the
same transaction, the table stays locked for all of them, not just the one
that needed the lock.

## Why

Each later statement (another ALTER, a data UPDATE, an index build) adds its
run time to the time writers, or even readers, are blocked. Runners such as
Alembic wrap the whole revision in one transaction, so this happens without
an explicit `BEGIN`. Reported once per transaction.

Statements that only change the catalog add no run time and are not
reported (they still take their own locks, which `missing-lock-timeout`
is about): CREATE FUNCTION, CREATE TRIGGER, COMMENT, RENAME, GRANT, CREATE
TABLE (not `AS`, not `PARTITION OF`), CREATE VIEW/SEQUENCE/TYPE, DROP;
`ADD COLUMN` without a volatile default (without any default before
PostgreSQL 11), not serial, identity or stored generated and without CHECK,
REFERENCES, UNIQUE or PRIMARY KEY; `DROP COLUMN`, `DROP CONSTRAINT`,
`SET`/`DROP DEFAULT`, `DROP NOT NULL`, `ADD CONSTRAINT ... NOT VALID`,
`ADD ... USING INDEX`, statistics, storage and options; a type change that
needs no rewrite (see `change-column-type`). So is any statement on a table
created earlier in the same transaction. What still counts: data changes
(UPDATE, INSERT ... SELECT), index builds, scans (VALIDATE, SET NOT NULL, a
CHECK or FOREIGN KEY without NOT VALID) and rewrites.

## Safe alternative

Commit right after the statement that takes the lock, or split the work
into separate migrations. zdmigrate runs each locking step in its own short
transaction:

```yaml
- alter_column: {table: orders, column: status, default: "'new'"}
- create_index: {name: orders_status_idx, table: orders, columns: [status]}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._catalog import adds_no_run_time
from zdmigrate.lint._context import Context
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, define
from zdmigrate.lint.source import Statement


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    held = ctx.strong_lock
    if held is None or ctx.strong_lock_reported or adds_no_run_time(stmt, ctx):
        return
    yield Violation(
        f"the {held.lock} lock on {held.table} taken at line {held.line} is still held "
        "while this statement runs",
        "commit right after the statement that takes the lock, or move the rest to another "
        "migration",
    )


RULE = define(
    __doc__,
    code="ZD214",
    name="lock-held-across-statements",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=(),
)
