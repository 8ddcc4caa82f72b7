"""Parse trees as PostgreSQL's parser prints them (JSON), with attribute access.

pglast can build Python objects for every node, but that costs more than the
rest of linting together. The JSON that libpg_query prints is decoded only for
the statements a rule looks at, and read through :class:`Node`:
``node.relation.relname``, ``cmd.subtype == "AT_DropColumn"``. Enum fields are
their names; absent booleans, numbers and lists read as ``None``.
"""

from __future__ import annotations

import json
from typing import Any

from pglast.parser import parse_sql_json

__all__ = ["Node", "const_value", "parse_one", "wrap"]

_KEYS = {"def_": "def"}


class Node:
    """One parse-tree node: its type name (``tag``) and its fields.

    A field is wrapped on first read and kept as an instance attribute, so
    later reads do not come back here. ``fields`` holds what rules compute
    from the node (keys start with a space).
    """

    def __init__(self, tag: str, data: dict[str, Any]) -> None:
        self.tag = tag
        self.data = data
        self.fields: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        value = self.__dict__[name] = wrap(self.data.get(_KEYS.get(name, name)))
        return value

    def __repr__(self) -> str:
        return f"<{self.tag or 'struct'} {self.data!r}>"


def wrap(value: Any) -> Any:
    """A JSON value as nodes: ``{"Tag": {...}}`` -> Node, lists -> tuples."""
    kind = type(value)
    if kind is dict:
        if len(value) == 1:
            for key, inner in value.items():
                if type(inner) is dict and key[:1].isupper():
                    if key == "List":
                        return tuple([wrap(item) for item in inner.get("items", ())])
                    return Node(key, inner)
        return Node("", value)
    if kind is list:
        return tuple([wrap(item) for item in value])
    return value


def const_value(node: Any) -> Any:
    """The Python value of an ``A_Const`` (None for NULL or anything else)."""
    if not isinstance(node, Node) or node.tag != "A_Const":
        return None
    data = node.data
    for key, default in (("sval", ""), ("ival", 0), ("fval", "0"), ("boolval", False)):
        if key in data:
            return data[key].get(key, default)
    return None


def parse_one(sql: str) -> Node:
    """The parse tree of one statement (the text must hold exactly one)."""
    stmts = json.loads(parse_sql_json(sql)).get("stmts") or [{}]
    return wrap(stmts[0].get("stmt", {}))  # type: ignore[no-any-return]
