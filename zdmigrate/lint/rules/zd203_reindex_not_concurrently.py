"""REINDEX without CONCURRENTLY blocks writes, and reads through the index.

## Problem

A plain `REINDEX` locks the table against writes (SHARE) and the index
against every use (ACCESS EXCLUSIVE) while it rebuilds.

## Why

Queries that would use the index wait, and so do all writes, for the whole
rebuild. From PostgreSQL 12, `REINDEX ... CONCURRENTLY` rebuilds beside the
old index and swaps them under a short lock.

## Safe alternative

Write `REINDEX INDEX CONCURRENTLY` (PostgreSQL 12+) in a `sql` operation,
which zdmigrate runs outside a transaction. Before 12, build a new index
with `create_index` and drop the old one with `drop_index`.

```yaml
- sql:
    up: REINDEX INDEX CONCURRENTLY orders_customer_id_idx
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, define, has_option
from zdmigrate.lint.source import Statement


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if node.relation is None or has_option(node.params, "concurrently"):
        return
    if ctx.is_new(node.relation):
        return
    fix = (
        "write REINDEX ... CONCURRENTLY (outside a transaction)"
        if ctx.pg_version >= 12
        else "build a new index with the zdmigrate operation create_index, then drop_index"
    )
    yield Violation(
        f"REINDEX of {rel_key(node.relation)} without CONCURRENTLY blocks writes and the "
        "queries that use the index",
        fix,
    )


RULE = define(
    __doc__,
    code="ZD203",
    name="reindex-not-concurrently",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("ReindexStmt",),
)
