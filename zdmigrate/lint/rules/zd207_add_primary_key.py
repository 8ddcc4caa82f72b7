"""Adding a PRIMARY KEY builds its index (and may scan for NULLs) under ACCESS EXCLUSIVE.

## Problem

`ALTER TABLE ... ADD PRIMARY KEY (...)` builds a unique index and sets the
columns NOT NULL, all under ACCESS EXCLUSIVE.

## Why

Reads and writes stop for the index build and for the NOT NULL scan of each
column that is not NOT NULL yet. With an index built concurrently beforehand
and columns that are already NOT NULL, `ADD PRIMARY KEY USING INDEX` is a
catalog change.

## Safe alternative

Make the columns NOT NULL with `alter_column` (no long lock), build a unique
index with `create_index`, then attach it in a `sql` operation.

```yaml
- alter_column: {table: events, column: id, nullable: false, up: "coalesce(id, 0)"}
- create_index: {name: events_pkey_idx, table: events, columns: [id], unique: true}
- sql:
    up: ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey_idx
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, builds_index, define
from zdmigrate.lint.source import Statement

_KIND = "CONSTR_PRIMARY"


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation) or not builds_index(node, _KIND):
        return
    yield ctx.on_table(
        node.relation,
        f"adding a PRIMARY KEY on {rel_key(node.relation)} builds its index under ACCESS EXCLUSIVE",
        "CREATE UNIQUE INDEX CONCURRENTLY on NOT NULL columns, then ADD PRIMARY KEY USING "
        "INDEX (zdmigrate operations create_index and sql)",
    )


RULE = define(
    __doc__,
    code="ZD207",
    name="add-primary-key",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("AlterTableStmt:AT_AddConstraint", "AlterTableStmt:AT_AddColumn"),
)
