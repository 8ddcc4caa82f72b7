"""Validating a constraint in the transaction that added it keeps the strong lock.

## Problem

`ADD CONSTRAINT ... NOT VALID` followed by `VALIDATE CONSTRAINT` in the same
transaction gains nothing: the lock taken by the `ADD` is held until commit,
so the validating scan runs under it.

## Why

The point of `NOT VALID` is to split a long scan under a strong lock into a
short strong lock and a long weak one (SHARE UPDATE EXCLUSIVE). That only
works when a commit lies between the two statements.

## Safe alternative

Use `create_constraint`, which commits between adding and validating. By
hand: put `VALIDATE CONSTRAINT` in the next migration, or commit before it.

```yaml
- create_constraint:
    table: orders
    name: orders_total_positive
    type: check
    check: total >= 0
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
    if not ctx.in_transaction:
        return
    table = rel_key(node.relation)
    for cmd in alter_cmds(node, "AT_ValidateConstraint"):
        if (table, str(cmd.name)) in ctx.not_valid:
            yield Violation(
                f"constraint {cmd.name} is validated in the transaction that added it on "
                f"{table}, so the scan runs under the strong lock of the ADD",
                "commit between ADD CONSTRAINT ... NOT VALID and VALIDATE CONSTRAINT, or use "
                "the zdmigrate operation create_constraint",
            )


RULE = define(
    __doc__,
    code="ZD205",
    name="validate-in-same-transaction",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("AlterTableStmt:AT_ValidateConstraint",),
)
