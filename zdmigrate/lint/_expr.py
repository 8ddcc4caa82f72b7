"""Walking expressions: which functions a default calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast

__all__ = ["function_names", "has_option"]


def _children(node: Any) -> Iterator[Any]:
    if isinstance(node, (list, tuple)):
        yield from node
    elif isinstance(node, ast.Node):
        for name in getattr(type(node), "__slots__", ()):
            value = getattr(node, name, None)
            if isinstance(value, (ast.Node, list, tuple)):
                yield value


def function_names(expr: Any) -> Iterator[str]:
    """Names of the functions called anywhere in ``expr`` (schema dropped, as written)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FuncCall) and node.funcname:
            yield str(node.funcname[-1].sval)
        stack.extend(_children(node))


def _is_false(arg: Any) -> bool:
    if isinstance(arg, ast.String):
        return str(arg.sval).lower() in ("false", "off", "0")
    if isinstance(arg, ast.Integer):
        return arg.ival == 0
    return isinstance(arg, ast.Boolean) and not arg.boolval


def has_option(options: Any, name: str) -> bool:
    """True when a list of DefElem (VACUUM, REINDEX options) holds ``name`` not set to false."""
    for opt in options or ():
        if isinstance(opt, ast.DefElem) and opt.defname == name:
            return not _is_false(opt.arg)
    return False
