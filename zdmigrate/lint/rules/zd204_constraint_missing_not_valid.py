"""Adding a CHECK or FOREIGN KEY without NOT VALID scans the table under lock.

## Problem

`ALTER TABLE ... ADD CONSTRAINT ... CHECK (...)` or `FOREIGN KEY` checks
every existing row before the statement ends, while it holds its lock. So
does `ADD COLUMN ... CHECK (...)` or `ADD COLUMN ... REFERENCES ...`, even
though the new column holds only NULLs. `ALTER DOMAIN ... ADD CONSTRAINT`
checks every column of every table that uses the domain.

## Why

A CHECK is added under ACCESS EXCLUSIVE (no reads, no writes); a FOREIGN KEY
under SHARE ROW EXCLUSIVE on both tables (no writes). Either is held for the
whole scan. A domain's new constraint holds SHARE (no writes) on each table
with a column of the domain while it scans it. Added `NOT VALID`, the lock
is held only for a catalog change, and `VALIDATE CONSTRAINT` later checks
the rows (for a table, under SHARE UPDATE EXCLUSIVE, which lets reads and
writes go on).

## Safe alternative

Use `create_constraint`: zdmigrate adds it `NOT VALID` and validates it in a
separate transaction.

```yaml
- create_constraint:
    table: orders
    name: orders_customer_id_fkey
    type: foreign_key
    columns: [customer_id]
    references: {table: customers, columns: [id]}
```
"""

from __future__ import annotations

from collections.abc import Iterator

from zdmigrate.lint._context import Context, rel_key
from zdmigrate.lint._expr import is_node
from zdmigrate.lint._model import Severity, Violation
from zdmigrate.lint.rules._util import (
    LOCKING,
    added_columns,
    added_constraints,
    column_constraints,
    define,
)
from zdmigrate.lint.source import Statement

_KINDS = {"CONSTR_CHECK": "CHECK", "CONSTR_FOREIGN": "FOREIGN KEY"}
_LOCKS = {
    "CONSTR_CHECK": "ACCESS EXCLUSIVE",
    "CONSTR_FOREIGN": "SHARE ROW EXCLUSIVE",
}


def _inline(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    for col in added_columns(node):
        for con in column_constraints(col, *_KINDS):
            yield ctx.on_table(
                node.relation,
                f"column {rel_key(node.relation)}.{col.colname} is added with a "
                f"{_KINDS[con.contype]} constraint, which scans the table under ACCESS EXCLUSIVE",
                "add the column alone, then the constraint NOT VALID and VALIDATE it later "
                "(zdmigrate operations add_column, then create_constraint)",
                offset=col.location,
            )


def _domain(stmt: Statement) -> Iterator[Violation]:
    node = stmt.node
    con = node.def_
    if node.subtype != "C" or not is_node(con, "Constraint") or con.skip_validation:
        return
    name = ".".join(str(n.sval) for n in node.typeName or ())
    yield Violation(
        f"adding a constraint to domain {name} without NOT VALID checks every column that "
        "uses it, holding SHARE (no writes) on each table while it scans",
        "add it NOT VALID, then ALTER DOMAIN ... VALIDATE CONSTRAINT in a later transaction",
    )


def check(stmt: Statement, ctx: Context) -> Iterator[Violation]:
    node = stmt.node
    if stmt.tag == "AlterDomainStmt":
        yield from _domain(stmt)
        return
    if ctx.is_new(node.relation):
        return
    yield from _inline(stmt, ctx)
    for con in added_constraints(node, *_KINDS):
        if con.skip_validation or con.contype is None:
            continue
        yield ctx.on_table(
            node.relation,
            f"adding {_KINDS[con.contype]} constraint on {rel_key(node.relation)} without "
            f"NOT VALID scans the table under {_LOCKS[con.contype]}",
            "add it NOT VALID and VALIDATE CONSTRAINT in a later transaction, or use the "
            "zdmigrate operation create_constraint",
        )


RULE = define(
    __doc__,
    code="ZD204",
    name="constraint-missing-not-valid",
    category=LOCKING,
    severity=Severity.WARNING,
    check=check,
    nodes=("AlterTableStmt:AT_AddConstraint", "AlterTableStmt:AT_AddColumn", "AlterDomainStmt"),
)
