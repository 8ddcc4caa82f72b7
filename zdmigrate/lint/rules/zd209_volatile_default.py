"""ADD COLUMN with a volatile default rewrites the whole table.

## Problem

Since PostgreSQL 11, `ADD COLUMN ... DEFAULT x` stores a constant or stable
default once, in the catalog. A volatile default (`random()`,
`gen_random_uuid()`, `clock_timestamp()`, `nextval()`, ...) must be computed
for each row, so the table is rewritten under ACCESS EXCLUSIVE. Before 11
every non-NULL default rewrites the table.

## Why

The rewrite blocks reads and writes for as long as copying the table takes.
Volatility is looked up in the complete list of PostgreSQL's built-in
functions (`pg_proc.provolatile`), so `now()` and `CURRENT_TIMESTAMP`
(stable) are not reported. Any other function (`uuid_generate_v4()` of the
uuid-ossp extension, `app.next_code()`) is as its `CREATE FUNCTION` in the
linted set declares it, else as the database of `--database-url` says, and
is otherwise taken as volatile, as PostgreSQL makes a function unless it is
declared otherwise.

## Safe alternative

Use `add_column` with the expression as `up`: the column is added without a
default, the backfill fills existing rows in batches, and a trigger fills
rows that the old version inserts.

```yaml
- add_column:
    table: orders
    column: {name: public_id, type: uuid, nullable: false}
    up: gen_random_uuid()
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._expr import is_node
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint._volatile import volatile_call
from zdmigrate.lint.rules._util import LOCKING, added_columns, column_constraints, define
from zdmigrate.lint.source import Statement


def _is_null(expr: Any) -> bool:
    return is_node(expr, "A_Const") and bool(expr.isnull)


def _reason(ctx: Context, expr: Any) -> str | None:
    if expr is None:
        return None
    if ctx.pg_version < 11:
        return None if _is_null(expr) else "any default before PostgreSQL 11"
    return volatile_call(ctx, expr)


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation):
        return
    for col in added_columns(node):
        for con in column_constraints(col, "CONSTR_DEFAULT"):
            reason = _reason(ctx, con.raw_expr)
            if reason:
                yield ctx.on_table(
                    node.relation,
                    f"column {rel_key(node.relation)}.{col.colname} is added with a default "
                    f"({reason}) that rewrites the table under ACCESS EXCLUSIVE",
                    "use the zdmigrate operation add_column with the expression as up: it "
                    "is backfilled in batches",
                    offset=col.location,
                )


RULE = define(
    __doc__,
    code="ZD209",
    name="volatile-default",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("AlterTableStmt:AT_AddColumn",),
)
