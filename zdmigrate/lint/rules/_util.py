"""Small parse-tree helpers shared by the rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zdmigrate.lint._expr import alter_groups, has_option, is_node
from zdmigrate.lint._model import Category, Check, Rule, Severity
from zdmigrate.lint._node import Node

__all__ = [
    "BREAKING",
    "LOCKING",
    "STYLE",
    "added_columns",
    "added_constraints",
    "alter_cmds",
    "column_constraints",
    "define",
    "has_option",
    "is_node",
    "type_name",
]

LOCKING = Category.LOCKING
BREAKING = Category.BREAKING
STYLE = Category.STYLE


def define(
    doc: str | None,
    *,
    code: str,
    name: str,
    category: str,
    severity: Severity,
    check: Check,
    nodes: tuple[str, ...],
    enabled: bool = True,
) -> Rule:
    """Build a rule; its summary is the first line of the module docstring."""
    text = (doc or "").strip()
    summary = text.splitlines()[0] if text else ""
    return Rule(code, name, summary, category, severity, check, nodes, text, enabled)


def alter_cmds(node: Any, *subtypes: str) -> list[Node]:
    """The subcommands of an ALTER TABLE (on a table), optionally only those of ``subtypes``."""
    groups = alter_groups(node)
    if not subtypes:
        return [cmd for cmds in groups.values() for cmd in cmds]
    if len(subtypes) == 1:
        return groups.get(subtypes[0], [])
    return [cmd for sub in subtypes for cmd in groups.get(sub, ())]


def _cached(node: Any, key: str, build: Callable[[], tuple[Node, ...]]) -> tuple[Node, ...]:
    """``build()`` once per node: several rules read the same parts of a statement."""
    found: tuple[Node, ...] | None = node.fields.get(key)
    if found is None:
        found = node.fields[key] = build()
    return found


def added_constraints(node: Any, *kinds: str) -> tuple[Node, ...]:
    every = _cached(
        node,
        " constraints",
        lambda: tuple(
            cmd.def_
            for cmd in alter_cmds(node, "AT_AddConstraint")
            if is_node(cmd.def_, "Constraint")
        ),
    )
    return tuple(con for con in every if con.contype in kinds)


def added_columns(node: Any) -> tuple[Node, ...]:
    return _cached(
        node,
        " columns",
        lambda: tuple(
            cmd.def_ for cmd in alter_cmds(node, "AT_AddColumn") if is_node(cmd.def_, "ColumnDef")
        ),
    )


def column_constraints(col: Any, *kinds: str) -> tuple[Node, ...]:
    every = _cached(
        col,
        " constraints",
        lambda: tuple(con for con in col.constraints or () if is_node(con, "Constraint")),
    )
    return tuple(con for con in every if con.contype in kinds)


def type_name(typ: Any) -> str:
    """The last part of a type name, e.g. ``int4`` for ``pg_catalog.int4``."""
    if typ is None or not typ.names:
        return ""
    return str(typ.names[-1].sval)


def builds_index(node: Any, kind: str) -> bool:
    """Whether ALTER TABLE ``node`` adds a constraint of ``kind`` (CONSTR_UNIQUE,
    CONSTR_PRIMARY) that builds its own index rather than using an existing one."""
    if any(not con.indexname for con in added_constraints(node, kind)):
        return True
    return any(any(column_constraints(col, kind)) for col in added_columns(node))
