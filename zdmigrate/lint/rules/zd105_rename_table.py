"""Renaming a table breaks the old version, which still uses the old name.

## Problem

`ALTER TABLE ... RENAME TO` moves the table to a new name at once. Queries
of the running old version name a table that is no longer there.

## Why

The rename is a catalog change under ACCESS EXCLUSIVE, so it is quick, but
no deploy order makes both versions work: one of them always names a table
that does not exist.

## Safe alternative

Use `rename_table`. The new version sees the new name through its version
schema while the old version keeps the old one; the physical rename happens
at contract.

```yaml
- rename_table:
    from: customers
    to: accounts
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
    if node.renameType != "OBJECT_TABLE" or ctx.is_new(node.relation):
        return
    yield ctx.on_table(
        node.relation,
        f"renaming table {rel_key(node.relation)} to {node.newname} breaks the old version "
        "of the app, which still uses the old name",
        "use the zdmigrate operation rename_table: each version sees its own name until "
        "`zdmigrate complete`",
    )


RULE = define(
    __doc__,
    code="ZD105",
    name="rename-table",
    category=BREAKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("RenameStmt",),
)
