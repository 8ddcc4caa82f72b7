"""Dropping a column breaks the running old version that still uses it.

## Problem

`ALTER TABLE ... DROP COLUMN` removes the column at once. Every query of the
version of the app that is still running and names the column, and every
`INSERT` that gives it a value, fails from that moment on.

## Why

The statement itself is quick (ACCESS EXCLUSIVE, no rewrite), but during a
rolling deploy the old code keeps serving requests. Its ORM usually lists
every mapped column, so even queries that never look at the dropped column
break.

## Safe alternative

Use the `drop_column` operation. `zdmigrate apply` leaves the column in place
(kept filled by `down` for old writers) and hides it from the new version;
`zdmigrate complete` drops it only after the gate has shown nothing reads it.

```yaml
- drop_column:
    table: users
    column: legacy_id
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import BREAKING, alter_cmds, define
from zdmigrate.lint.source import Statement


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation):
        return
    for cmd in alter_cmds(node, "AT_DropColumn"):
        yield ctx.on_table(
            node.relation,
            f"dropping column {rel_key(node.relation)}.{cmd.name} breaks the old version "
            "of the app that still reads or writes it",
            "use the zdmigrate operation drop_column: the column is dropped by "
            "`zdmigrate complete` once nothing uses it",
        )


RULE = define(
    __doc__,
    code="ZD101",
    name="drop-column",
    category=BREAKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("AlterTableStmt:AT_DropColumn",),
)
