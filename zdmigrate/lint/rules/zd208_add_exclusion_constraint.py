"""Adding an EXCLUSION constraint builds its index and checks every row under ACCESS EXCLUSIVE.

## Problem

`ALTER TABLE ... ADD EXCLUDE ...` builds a GiST (or other) index and checks
all rows against each other while holding ACCESS EXCLUSIVE.

## Why

Unlike UNIQUE, an exclusion constraint cannot be attached from an index
built concurrently (`USING INDEX` accepts only unique b-tree indexes), so
there is no short-lock form: the table is closed for the whole build.

## Safe alternative

Declare the exclusion constraint when the table is created, or, when plain
equality is all it needs, use a unique index built concurrently instead:

```yaml
- create_index:
    name: bookings_room_slot_key
    table: bookings
    columns: [room_id, slot]
    unique: true
```

When neither fits, run it in a maintenance window and suppress this finding
with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, added_constraints, define
from zdmigrate.lint.source import Statement


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation):
        return
    for _con in added_constraints(node, "CONSTR_EXCLUSION"):
        yield ctx.on_table(
            node.relation,
            f"adding an EXCLUSION constraint on {rel_key(node.relation)} builds its index "
            "and checks all rows under ACCESS EXCLUSIVE",
            "declare it when the table is created, or use a unique index built concurrently "
            "(zdmigrate operation create_index) if equality is enough",
        )


RULE = define(
    __doc__,
    code="ZD208",
    name="add-exclusion-constraint",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("AlterTableStmt:AT_AddConstraint",),
)
