"""Renaming a column breaks the old version, which still uses the old name.

## Problem

`ALTER TABLE ... RENAME COLUMN` changes the name in one instant. Until every
instance of the app runs the new code, the old instances query a column that
no longer exists.

## Why

The rename itself is fast (ACCESS EXCLUSIVE, catalog only), but there is no
moment at which old and new code can both work: before it the new code
fails, after it the old code fails.

## Safe alternative

Use `rename_column`. The physical column keeps its old name until contract;
the new version reads it under the new name through its version schema
(a view), so both versions work side by side.

```yaml
- rename_column:
    table: users
    from: email
    to: email_address
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import BREAKING, define
from zdmigrate.lint.source import Statement


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if node.renameType != "OBJECT_COLUMN" or node.relationType != "OBJECT_TABLE":
        return
    if ctx.is_new(node.relation):
        return
    yield ctx.on_table(
        node.relation,
        f"renaming column {rel_key(node.relation)}.{node.subname} to {node.newname} breaks "
        "the old version of the app, which still uses the old name",
        "use the zdmigrate operation rename_column: each version sees its own name until "
        "`zdmigrate complete`",
    )


RULE = define(
    __doc__,
    code="ZD104",
    name="rename-column",
    category=BREAKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("RenameStmt",),
)
