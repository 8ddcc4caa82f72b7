"""ATTACH PARTITION scans the partition under ACCESS EXCLUSIVE unless a CHECK proves its bound.

## Problem

`ALTER TABLE parent ATTACH PARTITION p FOR VALUES ...` checks that every row
of `p` fits the bound. It holds ACCESS EXCLUSIVE on `p` (and SHARE UPDATE
EXCLUSIVE on the parent; ACCESS EXCLUSIVE before PostgreSQL 12) for the
whole scan. A default partition of the parent is scanned too, for rows that
belong in `p`.

## Why

PostgreSQL skips the scan when the constraints already on `p` imply the
partition constraint, which includes the key's NOT NULL: a validated
`CHECK (at IS NOT NULL AND at >= '2024-01-01' AND at < '2025-01-01')` (or
the bounds alone on a NOT NULL column) for `FOR VALUES FROM ('2024-01-01')
TO ('2025-01-01')`. Added `NOT VALID` and validated in its own transaction,
that check is checked under SHARE UPDATE EXCLUSIVE, which lets reads and
writes go on. Not reported: a partition created in the same migration, and
one with a validated CHECK (in the linted set, or with `--database-url` in
the database) that names every value of the bound and a column that is, or
that it proves, NOT NULL. A hash bound and `DEFAULT` cannot be proven that
way.

## Safe alternative

Add the check with `create_constraint` (NOT VALID, then validated), then
attach, then drop the check:

```yaml
- create_constraint:
    table: measurements_2024
    name: measurements_2024_bound
    type: check
    check: at IS NOT NULL AND at >= '2024-01-01' AND at < '2025-01-01'
- sql:
    up: >-
      ALTER TABLE measurements ATTACH PARTITION measurements_2024
      FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._expr import constants, is_node
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, alter_cmds, define
from zdmigrate.lint.source import Statement


def _bound_values(bound: Any) -> frozenset[str]:
    datums = [*(bound.lowerdatums or ()), *(bound.upperdatums or ()), *(bound.listdatums or ())]
    return frozenset().union(*(constants(d) for d in datums))


def _proven(ctx: Context, partition: str, bound: Any) -> bool:
    """A validated CHECK names every value of the bound, and one of its columns is
    proven NOT NULL (the partition constraint includes the key's NOT NULL)."""
    if bound.is_default or bound.strategy == "h":
        return False
    wanted = _bound_values(bound)
    db = ctx.options.db
    for consts, columns in ctx.known.validated_checks(partition):
        if wanted <= consts and any(ctx.known.proves_not_null(partition, c) for c in columns):
            return True
    return db is not None and db.proves_bound(partition, wanted)


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    for cmd in alter_cmds(node, "AT_AttachPartition"):
        part = cmd.def_
        if not is_node(part, "PartitionCmd") or part.name is None or part.bound is None:
            continue
        if ctx.is_new(part.name) or _proven(ctx, rel_key(part.name), part.bound):
            continue
        yield ctx.on_table(
            part.name,
            f"attaching {rel_key(part.name)} to {rel_key(node.relation)} scans it under "
            "ACCESS EXCLUSIVE: no validated CHECK constraint matches the partition bound",
            "add a CHECK matching the bound NOT VALID, VALIDATE it in a later transaction, "
            "then attach (zdmigrate operation create_constraint, then the ATTACH)",
        )


RULE = define(
    __doc__,
    code="ZD219",
    name="attach-partition-without-check",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("AlterTableStmt:AT_AttachPartition",),
)
