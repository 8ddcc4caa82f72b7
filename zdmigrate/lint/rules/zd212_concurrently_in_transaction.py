"""A CONCURRENTLY statement inside a transaction block fails.

## Problem

`CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `REINDEX ...
CONCURRENTLY` and `DETACH PARTITION ... CONCURRENTLY` cannot run inside a
transaction block. Inside `BEGIN` (or a runner that wraps each file in a
transaction, as Alembic does) the statement errors out and the migration
stops. Neither can `REINDEX SCHEMA`, `REINDEX DATABASE` and `REINDEX SYSTEM`,
concurrent or not.

## Why

A concurrent build commits several times internally and waits for older
transactions; it cannot do that inside a transaction the caller controls.
A schema- or database-wide REINDEX commits after each table.

## Safe alternative

Use `create_index` / `drop_index`: zdmigrate runs these steps outside any
transaction, with its own lock timeout and retries. In Alembic, wrap the
statement in `op.get_context().autocommit_block()`.

```yaml
- create_index:
    name: orders_status_idx
    table: orders
    columns: [status]
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._context import Context
from zdmigrate.lint._expr import is_node
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, alter_cmds, define, has_option
from zdmigrate.lint.source import Statement

_WIDE_REINDEX = {
    "REINDEX_OBJECT_SCHEMA": "REINDEX SCHEMA",
    "REINDEX_OBJECT_DATABASE": "REINDEX DATABASE",
    "REINDEX_OBJECT_SYSTEM": "REINDEX SYSTEM",
}


def _concurrent_kind(node: Any) -> str | None:
    if is_node(node, "IndexStmt") and node.concurrent:
        return "CREATE INDEX CONCURRENTLY"
    if is_node(node, "DropStmt") and node.concurrent:
        return "DROP INDEX CONCURRENTLY"
    if is_node(node, "ReindexStmt") and node.kind in _WIDE_REINDEX:
        return _WIDE_REINDEX[node.kind]
    if is_node(node, "ReindexStmt") and has_option(node.params, "concurrently"):
        return "REINDEX CONCURRENTLY"
    if is_node(node, "AlterTableStmt"):
        for cmd in alter_cmds(node, "AT_DetachPartition"):
            if getattr(cmd.def_, "concurrent", False):
                return "DETACH PARTITION CONCURRENTLY"
    return None


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    if not ctx.in_transaction:
        return
    kind = _concurrent_kind(stmt.node)
    if kind:
        yield Violation(
            f"{kind} cannot run inside a transaction block; this statement will fail",
            "run it outside a transaction (Alembic: op.get_context().autocommit_block(); plain "
            "SQL: COMMIT first), or use the zdmigrate operations create_index/drop_index",
        )


RULE = define(
    __doc__,
    code="ZD212",
    name="concurrently-in-transaction",
    category=LOCKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("IndexStmt", "DropStmt", "ReindexStmt", "AlterTableStmt:AT_DetachPartition"),
)
