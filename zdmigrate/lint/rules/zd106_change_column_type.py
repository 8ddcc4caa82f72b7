"""Changing a column's type rewrites the table and can break the old version.

## Problem

`ALTER TABLE ... ALTER COLUMN ... TYPE` converts every row, unless the old
type is binary coercible to the new one (for example `varchar(50)` to
`text`). The old version of the app may also not cope with the new type.

These changes need no rewrite (and keep the column's indexes), and leave the
old version reading and writing as before, so they are not reported:
`text` to `varchar` (no length) and back, `varchar(n)` to `varchar(m)` with
m >= n or to unconstrained `varchar`, `varbit(n)` likewise, `numeric(p,s)` to
`numeric(q,s)` with q >= p or to unconstrained `numeric`, and a larger (or no)
precision of `timestamp`, `timestamptz`, `time`, `timetz` and `interval`.
`cidr` to `inet` needs no rewrite either, but the old version reads `inet`
values (a host address prints without `/32`): a warning says so.
`timestamp` to `timestamptz` is reported: it rewrites the table unless the
session's TimeZone is UTC, rebuilds the column's indexes either way, and
changes what the old version's timestamps mean.

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

The old type is read from, in this order: the database of `--database-url`,
Alembic's `existing_type` (`op.alter_column(..., existing_type=...)`, which
autogenerate always writes), the statements of the linted set that created
or changed the column (an earlier migration's `CREATE TABLE`, say), or
`--schema-file`. When none of them tells, the change is reported. A `USING` clause other than the column
itself is taken as a rewrite.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint._typechange import type_change
from zdmigrate.lint._types import TypeChange
from zdmigrate.lint.rules._util import BREAKING, alter_cmds, define
from zdmigrate.lint.source import Statement

_HELP = (
    "use the zdmigrate operation alter_column with type, up and down: a shadow column "
    "is backfilled in batches"
)


_UNKNOWN = (
    "if the change needs no rewrite, such as varchar(50) to text, give it with Alembic's "
    "existing_type, --schema-file or --database-url"
)


def _violation(ctx: Context, node: Any, cmd: Any, change: tuple[Any, ...]) -> Violation | None:
    old, new, kind, reads = change
    column = f"{rel_key(node.relation)}.{cmd.name}"
    if kind is TypeChange.NO_REWRITE:
        return None
    if kind is TypeChange.NO_REWRITE_READS_DIFFER:
        return Violation(
            f"changing the type of {column} from {old} to {new} needs no rewrite, but the "
            f"old version of the app reads {new} from now on: {reads}",
            "check that the old version copes, or use the zdmigrate operation alter_column "
            "with type, up and down",
            severity=Severity.WARNING,
        )
    if old is not None and new is not None:
        what, help_ = f"from {old} to {new} ", _HELP
    else:
        what, help_ = "", f"{_HELP} (the old type is not known here: {_UNKNOWN})"
    return ctx.on_table(
        node.relation,
        f"changing the type of {column} {what}rewrites the table under ACCESS EXCLUSIVE and "
        "may break the old version of the app",
        help_,
    )


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if ctx.is_new(node.relation):
        return
    table = rel_key(node.relation)
    for cmd in alter_cmds(node, "AT_AlterColumnType"):
        found = _violation(ctx, node, cmd, type_change(stmt, ctx, table, cmd))
        if found is not None:
            yield found


RULE = define(
    __doc__,
    code="ZD106",
    name="change-column-type",
    category=BREAKING,
    severity=Severity.ERROR,
    check=check,
    nodes=("AlterTableStmt:AT_AlterColumnType",),
)
