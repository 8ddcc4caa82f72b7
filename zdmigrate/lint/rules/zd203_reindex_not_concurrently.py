"""REINDEX without CONCURRENTLY blocks writes, and reads through the index.

## Problem

A plain `REINDEX` locks the table against writes (SHARE) and the index
against every use (ACCESS EXCLUSIVE) while it rebuilds. `REINDEX SCHEMA`
and `REINDEX DATABASE` do that to every table in turn, and `REINDEX SYSTEM`
to the system catalogs, which every query reads; it cannot run
`CONCURRENTLY` at all.

## Why

Queries that would use the index wait, and so do all writes, for the whole
rebuild. From PostgreSQL 12, `REINDEX ... CONCURRENTLY` rebuilds beside the
old index and swaps them under a short lock.

## Safe alternative

Write `REINDEX INDEX CONCURRENTLY` (PostgreSQL 12+) in a `sql` operation,
which zdmigrate runs outside a transaction. Before 12, build a new index
with `create_index` and drop the old one with `drop_index`. Keep
`REINDEX SYSTEM` out of migrations: it belongs in a maintenance window.

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

_WIDE = {
    "REINDEX_OBJECT_SCHEMA": "SCHEMA",
    "REINDEX_OBJECT_DATABASE": "DATABASE",
    "REINDEX_OBJECT_SYSTEM": "SYSTEM",
}


def _wide(ctx: Context, kind: str, name: str | None) -> Violation:
    what = f"REINDEX {kind}{f' {name}' if name else ''}"
    if kind == "SYSTEM":
        return Violation(
            f"{what} rebuilds the system catalogs' indexes, blocking every query that reads them",
            "leave it out of the migration (PostgreSQL refuses it CONCURRENTLY): run it in a "
            "maintenance window",
        )
    fix = (
        f"write REINDEX (CONCURRENTLY) {kind} ... (outside a transaction)"
        if ctx.pg_version >= 12
        else "rebuild the indexes that need it one by one with create_index and drop_index"
    )
    return Violation(
        f"{what} without CONCURRENTLY blocks writes to every table it reaches, and the "
        "queries that use their indexes, in turn",
        fix,
    )


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if node.kind == "REINDEX_OBJECT_SYSTEM":
        yield _wide(ctx, "SYSTEM", node.name)
        return
    if has_option(node.params, "concurrently"):
        return
    if node.relation is None:
        if node.kind in _WIDE:
            yield _wide(ctx, _WIDE[node.kind], node.name)
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
