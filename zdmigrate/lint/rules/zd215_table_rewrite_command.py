"""VACUUM FULL, CLUSTER, SET LOGGED/UNLOGGED and SET TABLESPACE rewrite the table under lock.

## Problem

`VACUUM FULL`, `CLUSTER`, `ALTER TABLE ... SET LOGGED | UNLOGGED`,
`ALTER TABLE ... SET TABLESPACE` (and `ALTER TABLE ALL IN TABLESPACE ...`)
and `ALTER TABLE ... SET ACCESS METHOD` copy the whole table into new files.

## Why

They hold ACCESS EXCLUSIVE for the whole copy: no reads and no writes, and
on a large table that is minutes to hours. They also need free disk space
for a second copy of the table and its indexes.

## Safe alternative

Keep table maintenance out of migrations: plain `VACUUM` (which takes SHARE
UPDATE EXCLUSIVE) reclaims space for reuse, and an online repacking tool
rebuilds a table (or moves it to another tablespace) without the long lock. In a migration, use a `sql`
operation with a plain `VACUUM` when that is what is needed:

```yaml
- sql:
    up: VACUUM (ANALYZE) orders
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._expr import is_node
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import LOCKING, alter_cmds, define, has_option
from zdmigrate.lint.source import Statement

_PERSISTENCE = ("AT_SetLogged", "AT_SetUnLogged")
_MOVES = {"AT_SetTableSpace": "SET TABLESPACE", "AT_SetAccessMethod": "SET ACCESS METHOD"}


def _command(node: Any) -> tuple[str, Any] | None:
    if is_node(node, "VacuumStmt") and node.is_vacuumcmd and has_option(node.options, "full"):
        rels = node.rels or ()
        return "VACUUM FULL", rels[0].relation if rels else None
    if is_node(node, "ClusterStmt"):
        return "CLUSTER", node.relation
    if is_node(node, "AlterTableStmt") and any(alter_cmds(node, *_PERSISTENCE)):
        return "SET LOGGED/UNLOGGED", node.relation
    if is_node(node, "AlterTableStmt"):
        for sub, command in _MOVES.items():
            if alter_cmds(node, sub):
                return command, node.relation
    if is_node(node, "AlterTableMoveAllStmt") and node.objtype == "OBJECT_TABLE":
        return f"ALTER TABLE ALL IN TABLESPACE {node.orig_tablespacename}", None
    return None


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    found = _command(stmt.node)
    if found is None:
        return
    command, rel = found
    if rel is not None and ctx.is_new(rel):
        return
    target = rel_key(rel) if rel is not None else "every table"
    yield Violation(
        f"{command} rewrites {target} under ACCESS EXCLUSIVE",
        "use plain VACUUM, or an online repacking tool outside the migration",
    )


RULE = define(
    __doc__,
    code="ZD215",
    name="table-rewrite-command",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=(
        "VacuumStmt",
        "ClusterStmt",
        "AlterTableStmt:AT_SetLogged",
        "AlterTableStmt:AT_SetUnLogged",
        "AlterTableStmt:AT_SetTableSpace",
        "AlterTableStmt:AT_SetAccessMethod",
        "AlterTableMoveAllStmt",
    ),
)
