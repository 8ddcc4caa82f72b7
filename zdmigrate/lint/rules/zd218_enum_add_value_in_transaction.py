"""ALTER TYPE ... ADD VALUE inside a transaction fails before PostgreSQL 12.

## Problem

Before PostgreSQL 12, `ALTER TYPE ... ADD VALUE` cannot run inside a
transaction block. In a runner that wraps each file in a transaction (as
Alembic does) the migration fails at this statement.

## Why

Older servers could not make a new enum value safe to use before it was
committed. From 12 the statement is allowed in a transaction, but the new
value still cannot be used until the transaction commits. Reported only for
`--pg-version` below 12.

## Safe alternative

Run it on its own, outside a transaction; zdmigrate runs `sql` operations
that cannot be in a transaction as separate steps:

```yaml
- sql:
    up: ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded'
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, define
from zdmigrate.lint.source import Statement


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if node.oldVal is not None or not ctx.in_transaction or ctx.pg_version >= 12:
        return
    name = ".".join(n.sval for n in node.typeName or ())
    yield Violation(
        f"ALTER TYPE {name} ADD VALUE cannot run inside a transaction block on "
        f"PostgreSQL {ctx.pg_version}",
        "run it outside a transaction (Alembic: op.get_context().autocommit_block())",
    )


RULE = define(
    __doc__,
    code="ZD218",
    name="enum-add-value-in-transaction",
    category=LOCKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("AlterEnumStmt",),
)
