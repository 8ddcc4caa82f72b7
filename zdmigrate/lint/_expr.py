"""Small readers of parse trees: node types, called functions, options."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zdmigrate.lint._node import Node, const_value

__all__ = [
    "alter_groups",
    "column_name",
    "column_names",
    "conjuncts",
    "constants",
    "function_calls",
    "has_option",
    "is_node",
    "not_null_columns",
]


def is_node(value: Any, *tags: str) -> bool:
    """True when ``value`` is a node of one of ``tags``."""
    return isinstance(value, Node) and value.tag in tags


def column_name(expr: Any) -> str | None:
    """``col`` when ``expr`` is an unqualified column reference (``fields`` is read from
    the JSON: on a Node that name holds what rules compute)."""
    if not is_node(expr, "ColumnRef"):
        return None
    parts: list[dict[str, Any]] = expr.data.get("fields") or []
    if len(parts) != 1 or "String" not in parts[0]:
        return None
    return str(parts[0]["String"].get("sval", ""))


def constants(expr: Any) -> frozenset[str]:
    """The constants written anywhere in ``expr``, as text (``1``, ``2024-01-01``)."""
    found: set[str] = set()
    stack: list[Any] = [_raw(expr)]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            const = value.get("A_Const")
            if isinstance(const, dict):
                for key in ("ival", "sval", "fval", "boolval"):
                    if key in const:
                        inner = const[key]
                        found.add(str(inner.get(key, 0 if key == "ival" else "")))
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return frozenset(found)


def conjuncts(expr: Any) -> list[Any]:
    """The terms of a top-level ``a AND b AND ...`` (``[expr]`` for anything else)."""
    if is_node(expr, "BoolExpr") and expr.boolop == "AND_EXPR":
        return [term for arg in expr.args or () for term in conjuncts(arg)]
    return [expr]


def not_null_columns(expr: Any) -> frozenset[str]:
    """Columns that ``expr`` proves NOT NULL: ``col IS NOT NULL`` AND-ed at the top."""
    found = set()
    for term in conjuncts(expr):
        if is_node(term, "NullTest") and term.nulltesttype == "IS_NOT_NULL":
            name = column_name(term.arg)
            if name is not None:
                found.add(name)
    return frozenset(found)


def column_names(expr: Any) -> frozenset[str]:
    """Unqualified columns referenced anywhere in ``expr``."""
    found: set[str] = set()
    stack: list[Any] = [_raw(expr)]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            ref = value.get("ColumnRef")
            parts = ref.get("fields") if isinstance(ref, dict) else None
            if parts and len(parts) == 1 and "String" in parts[0]:
                found.add(str(parts[0]["String"].get("sval", "")))
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return frozenset(found)


def _raw(value: Any) -> Any:
    if isinstance(value, Node):
        return {value.tag: value.data} if value.tag else value.data
    return value


def function_calls(expr: Any) -> Iterator[tuple[str, str]]:
    """(schema or "", name) of the functions called anywhere in ``expr``."""
    stack: list[Any] = [_raw(expr)]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            call = value.get("FuncCall")
            if isinstance(call, dict) and call.get("funcname"):
                parts = [str(p["String"].get("sval", "")) for p in call["funcname"]]
                yield (parts[-2] if len(parts) > 1 else ""), parts[-1]
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _is_false(arg: Any) -> bool:
    if is_node(arg, "String"):
        return str(arg.sval or "").lower() in ("false", "off", "0")
    if is_node(arg, "Integer"):
        return not arg.ival
    if is_node(arg, "Boolean"):
        return not arg.boolval
    return const_value(arg) in (False, 0, "false", "off")


def has_option(options: Any, name: str) -> bool:
    """True when a list of DefElem (VACUUM, REINDEX options) holds ``name`` not set to false."""
    for opt in options or ():
        if is_node(opt, "DefElem") and opt.defname == name:
            return not _is_false(opt.arg)
    return False


def alter_groups(node: Any) -> dict[str, list[Node]]:
    """The subcommands of an ALTER TABLE on a table, by subtype (cached on the node)."""
    cached: dict[str, list[Node]] | None = node.fields.get(" by_subtype")
    if cached is None:
        cached = {}
        if node.objtype in (None, "OBJECT_TABLE"):
            for cmd in node.cmds or ():
                cached.setdefault(cmd.subtype, []).append(cmd)
        node.fields[" by_subtype"] = cached
    return cached
