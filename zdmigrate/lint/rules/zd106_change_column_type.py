"""Changing a column's type rewrites the table and can break the old version.

## Problem

`ALTER TABLE ... ALTER COLUMN ... TYPE` converts every row, unless the old
type is binary coercible to the new one (for example `varchar(50)` to
`text`). The old version of the app may also not cope with the new type.

## Why

A conversion rewrites the whole table and rebuilds its indexes under ACCESS
EXCLUSIVE: no reads and no writes for as long as that takes. A narrower type
or a different one can also make the old code's writes fail.

## Safe alternative

Use `alter_column` with the new `type` and `up`/`down` expressions. zdmigrate
adds a shadow column of the new type, keeps both in step with a trigger,
backfills in small batches, and swaps the names at contract.

```yaml
- alter_column:
    table: orders
    column: amount
    type: numeric(12,2)
    up: amount::numeric(12,2)
    down: amount::integer
```

With `--database-url`, binary coercible changes (no rewrite) are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._expr import is_node
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import BREAKING, alter_cmds, define
from zdmigrate.lint.source import Statement


def _coercible(ctx: Context, node: Any, cmd: Any) -> bool:
    db = ctx.options.db
    col = cmd.def_
    if db is None or not is_node(col, "ColumnDef"):
        return False
    return db.binary_coercible(rel_key(node.relation), str(cmd.name), col.typeName)


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation):
        return
    for cmd in alter_cmds(node, "AT_AlterColumnType"):
        if _coercible(ctx, node, cmd):
            continue
        yield ctx.on_table(
            node.relation,
            f"changing the type of {rel_key(node.relation)}.{cmd.name} rewrites the table "
            "under ACCESS EXCLUSIVE and may break the old version of the app",
            "use the zdmigrate operation alter_column with type, up and down: a shadow column "
            "is backfilled in batches",
        )


RULE = define(
    __doc__,
    code="ZD106",
    name="change-column-type",
    category=BREAKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("AlterTableStmt:AT_AlterColumnType",),
)
