"""DETACH PARTITION without CONCURRENTLY locks the partitioned table.

## Problem

`ALTER TABLE parent DETACH PARTITION p` takes ACCESS EXCLUSIVE on the parent
(and the partition): every query on any partition waits.

## Why

From PostgreSQL 14, `DETACH PARTITION ... CONCURRENTLY` takes only SHARE
UPDATE EXCLUSIVE on the parent and lets reads and writes go on. It cannot
run inside a transaction block. Not reported for `--pg-version` below 14,
where there is no concurrent form.

## Safe alternative

Write the concurrent form in a `sql` operation; zdmigrate runs it outside a
transaction:

```yaml
- sql:
    up: ALTER TABLE measurements DETACH PARTITION measurements_2020 CONCURRENTLY
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, alter_cmds, define
from zdmigrate.lint.source import Statement


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.pg_version < 14 or ctx.is_new(node.relation):
        return
    for cmd in alter_cmds(node, "AT_DetachPartition"):
        if not getattr(cmd.def_, "concurrent", False):
            yield ctx.on_table(
                node.relation,
                f"DETACH PARTITION on {rel_key(node.relation)} without CONCURRENTLY takes "
                "ACCESS EXCLUSIVE on the partitioned table",
                "write DETACH PARTITION ... CONCURRENTLY, outside a transaction",
            )


RULE = define(
    __doc__,
    code="ZD217",
    name="detach-partition-not-concurrently",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("AlterTableStmt:AT_DetachPartition",),
)
