"""Adding a UNIQUE constraint builds its index under ACCESS EXCLUSIVE.

## Problem

`ALTER TABLE ... ADD UNIQUE (...)` (or `ADD COLUMN ... UNIQUE`) builds a
unique index while holding ACCESS EXCLUSIVE on the table.

## Why

Reads and writes of the table stop for the whole index build. Building the
index first with `CREATE UNIQUE INDEX CONCURRENTLY` and then adding the
constraint `USING INDEX` takes the strong lock only for a catalog change.

## Safe alternative

Use `create_constraint` with `type: unique`: zdmigrate builds the unique
index concurrently and attaches it with `ADD CONSTRAINT ... UNIQUE USING
INDEX`.

```yaml
- create_constraint:
    table: users
    name: users_email_key
    type: unique
    columns: [email]
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, builds_index, define
from zdmigrate.lint.source import Statement

_KIND = "CONSTR_UNIQUE"


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation) or not builds_index(node, _KIND):
        return
    yield ctx.on_table(
        node.relation,
        f"adding a UNIQUE constraint on {rel_key(node.relation)} builds its index under "
        "ACCESS EXCLUSIVE",
        "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX; the "
        "zdmigrate operation create_constraint (type: unique) does both",
    )


RULE = define(
    __doc__,
    code="ZD206",
    name="add-unique-constraint",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("AlterTableStmt:AT_AddConstraint", "AlterTableStmt:AT_AddColumn"),
)
