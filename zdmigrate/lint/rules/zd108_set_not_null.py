"""SET NOT NULL scans the table under ACCESS EXCLUSIVE and breaks old writers.

## Problem

`ALTER TABLE ... ALTER COLUMN ... SET NOT NULL` checks every row while it
holds ACCESS EXCLUSIVE, and from then on rejects the NULLs that the old
version of the app may still write.

## Why

The full-table scan blocks reads and writes for as long as it runs. From
PostgreSQL 12 the scan is skipped when a validated `CHECK (c IS NOT NULL)`
already exists, which is the basis of the safe recipe.

## Safe alternative

Use `alter_column` with `nullable: false` and an `up` expression for old
rows. zdmigrate adds `CHECK (c IS NOT NULL) NOT VALID`, validates it under
SHARE UPDATE EXCLUSIVE (reads and writes go on), then sets NOT NULL without
a scan and drops the check.

```yaml
- alter_column:
    table: users
    column: email
    nullable: false
    up: coalesce(email, '')
```

The safe recipe written by hand is recognised (PostgreSQL 12 and later): a
column with a validated `CHECK (c IS NOT NULL)` is not reported, so
`ADD CONSTRAINT c_not_null CHECK (c IS NOT NULL) NOT VALID`, then
`VALIDATE CONSTRAINT c_not_null`, then `SET NOT NULL` is clean, whether the
three are in one transaction, in several, in one Alembic revision (where
`op.create_check_constraint(..., postgresql_not_valid=True)` adds the check
NOT VALID) or in earlier migrations of the linted set. (Validating in the transaction that
added the check is reported by `validate-in-same-transaction`.) With
`--database-url`, a validated check that already exists counts too.
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import BREAKING, alter_cmds, define
from zdmigrate.lint.source import Statement


def _proven(ctx: Context, table: str, column: str) -> bool:
    if ctx.pg_version < 12:
        return False
    if ctx.known.proves_not_null(table, column):
        return True
    db = ctx.options.db
    return db is not None and db.has_not_null_check(table, column)


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation):
        return
    table = rel_key(node.relation)
    for cmd in alter_cmds(node, "AT_SetNotNull"):
        if _proven(ctx, table, str(cmd.name)):
            continue
        yield ctx.on_table(
            node.relation,
            f"SET NOT NULL on {table}.{cmd.name} scans the table under ACCESS EXCLUSIVE and "
            "makes the old version's NULL writes fail",
            "use the zdmigrate operation alter_column with nullable: false: a NOT VALID "
            "CHECK is validated first, so no long lock is taken",
        )


RULE = define(
    __doc__,
    code="ZD108",
    name="set-not-null",
    category=BREAKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("AlterTableStmt:AT_SetNotNull",),
)
