"""A statement that takes a SHARE or stronger lock with no statement_timeout set first.

## Problem

`lock_timeout` bounds the wait for a lock, not how long the statement holds
it once it has it. A statement that turns out to scan or rewrite a big table,
or that then waits for a second lock (which `lock_timeout` does not cover
once the first is held by the transaction), keeps the app blocked for as long
as it runs.

## Why

With `statement_timeout` set as well, a statement that runs longer than
planned is cancelled and its transaction rolled back, releasing the lock,
instead of stalling the app until it finishes. Reported once per file, on
the first such statement on a table that this migration did not create.
Off by default: select it (`select = ["missing-statement-timeout"]` under
`[tool.zdmigrate.lint]`, or `--select missing-statement-timeout`).

## Safe alternative

zdmigrate runs transactional steps with `SET LOCAL statement_timeout` when
`statement-timeout-ms` is set under `[tool.zdmigrate]`. In plain SQL, set it
beside `lock_timeout`, long enough for what the statement must do:

```yaml
- sql:
    up: >-
      SET lock_timeout = '500ms'; SET statement_timeout = '5s';
      ALTER TABLE orders ADD COLUMN note text
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
    if ctx.statement_timeout_set or ctx.statement_timeout_reported:
        return
    lock = existing_lock(stmt, ctx)
    if lock is None or lock.rank < rank(SHARE):
        return
    yield Violation(
        f"this statement takes {lock.level} on {lock.table} and no statement_timeout is set: "
        "if it runs longer than planned, it holds the lock with no limit",
        "SET statement_timeout (as long as the statement needs) beside lock_timeout",
    )


RULE = define(
    __doc__,
    code="ZD220",
    name="missing-statement-timeout",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=(),
    enabled=False,
)
