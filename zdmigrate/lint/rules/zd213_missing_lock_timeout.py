"""A statement that takes a SHARE or stronger lock with no lock_timeout set first.

## Problem

A DDL statement that waits for its lock holds its place in the lock queue,
and every later query on the table waits behind it, reads included. Without
`lock_timeout` the wait has no end: one slow transaction in front of the
migration stalls the whole app.

## Why

SHARE and stronger locks conflict with the locks that ordinary writes
(ROW EXCLUSIVE) and, for ACCESS EXCLUSIVE, reads (ACCESS SHARE) take. With a
short `lock_timeout` the statement gives up quickly and can be retried, so
the queue never grows. Reported once per file, on the first such statement
on a table that this migration did not create. A new table is no excuse
when it references an existing one: `CREATE TABLE ... REFERENCES users`
(or a FOREIGN KEY added to the new table) takes SHARE ROW EXCLUSIVE on
`users`, which waits behind, and then blocks, the app's writes to it.

## Safe alternative

zdmigrate runs every step with a short `lock_timeout` (500 ms by default)
and retries with backoff; its operations never wait in the queue. In plain
SQL, set it before the first DDL statement:

```yaml
- sql:
    up: "SET lock_timeout = '500ms'; ALTER TABLE orders ALTER COLUMN note SET DEFAULT ''"
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.locks import SHARE, existing_lock, rank
from zdmigrate.lint.rules._util import LOCKING, define
from zdmigrate.lint.source import Statement


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    if ctx.lock_timeout_set or ctx.lock_timeout_reported:
        return
    lock = existing_lock(stmt, ctx)
    if lock is None or lock.rank < rank(SHARE):
        return
    yield Violation(
        f"this statement takes {lock.level} on {lock.table} and no lock_timeout is set: "
        "waiting for the lock stalls every query queued behind it",
        "SET lock_timeout = '500ms' (and retry on timeout) before it; zdmigrate "
        "operations do this for you",
    )


RULE = define(
    __doc__,
    code="ZD213",
    name="missing-lock-timeout",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=(),
)
