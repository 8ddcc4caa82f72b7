"""Adding a serial or identity column rewrites the whole table.

## Problem

`ADD COLUMN id serial` (or `bigserial`, or `GENERATED ... AS IDENTITY`)
gives every existing row a value from a sequence, which is volatile, so the
table is rewritten under ACCESS EXCLUSIVE.

## Why

Reads and writes of the table stop for the whole rewrite, however small the
new column is.

## Safe alternative

Create the sequence in a `sql` operation and add the column with
`add_column`, filling it through `up`; the backfill numbers existing rows in
batches.

```yaml
- sql:
    up: CREATE SEQUENCE events_seq_id_seq
    down: DROP SEQUENCE events_seq_id_seq
- add_column:
    table: events
    column: {name: seq_id, type: bigint}
    up: nextval('events_seq_id_seq')
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import (
    LOCKING,
    added_columns,
    column_constraints,
    define,
    type_name,
)
from zdmigrate.lint.source import Statement

SERIAL_TYPES = frozenset({"serial", "serial4", "serial8", "bigserial", "smallserial", "serial2"})


def _numbered(col: Any) -> bool:
    if type_name(col.typeName) in SERIAL_TYPES:
        return True
    return any(column_constraints(col, "CONSTR_IDENTITY"))


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation):
        return
    for col in added_columns(node):
        if _numbered(col):
            yield ctx.on_table(
                node.relation,
                f"serial/identity column {rel_key(node.relation)}.{col.colname} rewrites the "
                "table under ACCESS EXCLUSIVE",
                "create the sequence, then the zdmigrate operation add_column with "
                "up: nextval(...) so existing rows are numbered in batches",
                offset=col.location,
            )


RULE = define(
    __doc__,
    code="ZD211",
    name="add-serial-column",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("AlterTableStmt:AT_AddColumn",),
)
