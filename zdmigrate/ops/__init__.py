"""One module per operation: each records what it does; no I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zdmigrate.ops import (
    add_column,
    alter_column,
    constraints,
    drop_column,
    indexes,
    raw_sql,
    tables,
)
from zdmigrate.ops._work import PlanContext
from zdmigrate.spec import models as m

__all__ = ["PLANNERS", "PlanContext"]

PLANNERS: dict[type, Callable[[Any, PlanContext], None]] = {
    m.AddColumn: add_column.plan,
    m.DropColumn: drop_column.plan,
    m.RenameColumn: alter_column.plan_rename,
    m.AlterColumn: alter_column.plan,
    m.CreateIndex: indexes.plan_create,
    m.DropIndex: indexes.plan_drop,
    m.CreateTable: tables.plan_create,
    m.DropTable: tables.plan_drop,
    m.RenameTable: tables.plan_rename,
    m.CreateConstraint: constraints.plan_create,
    m.DropConstraint: constraints.plan_drop,
    m.RawSql: raw_sql.plan,
}
