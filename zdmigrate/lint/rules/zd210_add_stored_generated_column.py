"""Adding a STORED generated column rewrites the whole table.

## Problem

`ALTER TABLE ... ADD COLUMN ... GENERATED ALWAYS AS (...) STORED` computes
the value for every existing row, rewriting the table under ACCESS
EXCLUSIVE.

## Why

Reads and writes of the table stop for the whole rewrite. (PostgreSQL 18's
virtual generated columns are computed on read and are not reported.)

## Safe alternative

Add a plain column with `add_column` and `up` set to the expression: the
backfill fills existing rows in batches and a trigger keeps new rows filled.

```yaml
- add_column:
    table: orders
    column: {name: total_cents, type: bigint}
    up: (total * 100)::bigint
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, added_columns, column_constraints, define
from zdmigrate.lint.source import Statement


def _stored(col: Any) -> bool:
    return any(con.generated_kind != "v" for con in column_constraints(col, "CONSTR_GENERATED"))


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation):
        return
    for col in added_columns(node):
        if _stored(col):
            yield ctx.on_table(
                node.relation,
                f"stored generated column {rel_key(node.relation)}.{col.colname} rewrites the "
                "table under ACCESS EXCLUSIVE",
                "use the zdmigrate operation add_column with the expression as up: it is "
                "backfilled in batches",
                offset=col.location,
            )


RULE = define(
    __doc__,
    code="ZD210",
    name="add-stored-generated-column",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("AlterTableStmt:AT_AddColumn",),
)
