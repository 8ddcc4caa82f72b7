"""Render a plain Alembic revision without importing it, or Alembic.

Most revisions are a list of ``op.<name>(...)`` calls with literal arguments:
what autogenerate writes. For those, the SQL that ``alembic upgrade --sql``
writes is known from the arguments alone, so this module reads the script
with :mod:`ast` (it runs none of it) and writes that SQL, with the same
anchors (each statement points at the line of its ``op.`` call) and the same
``existing_type`` notes as :func:`zdmigrate.alembic.render.render_module`.
Importing Alembic and SQLAlchemy is most of the time of linting one revision.

Anything else, anywhere in the module (another import, a variable, a loop, an
f-string, a helper function, ``op.get_bind()``, a type or a keyword argument
it does not know...) makes :func:`render_static` return None, and the
revision is imported and rendered the real way. tests/alembic/test_static.py
checks that both ways give the same result for every construct accepted here.
"""

from __future__ import annotations
import __future__

import ast
import builtins
import collections.abc
import sys
import typing
from pathlib import Path
from typing import Any

from zdmigrate.alembic._static_ops import OPS, bind
from zdmigrate.alembic._static_sql import Call, Unknown, type_sql
from zdmigrate.alembic.render import RevisionSource
from zdmigrate.lint.hints import ExistingType

__all__ = ["render_static"]

# what the names a revision may import stand for
_IMPORTS = {
    ("alembic", "op"): "op",
    ("sqlalchemy", None): "sa",
    ("sqlalchemy.dialects", "postgresql"): "postgresql",
}
_TYPING = {"typing": typing, "collections.abc": collections.abc}
_BUILTINS = {"str", "int", "tuple", "list", "None", "bool", "dict", "set", "frozenset"}


def render_static(path: Path) -> RevisionSource | None:
    """The revision's rendering, or None when it is not made only of known constructs."""
    # the line Python reports while a call spanning lines runs (that of `op.name(`), and
    # on leaving a `with` (that of `with`), as checked on 3.10 to 3.13
    if not (3, 10) <= sys.version_info[:2] <= (3, 13):
        return None
    try:
        tree = ast.parse(path.read_bytes(), str(path))
        compile(tree, str(path), "exec")  # what Python would refuse when importing it
        upgrade, names = _module(tree)
        writer = _Writer()
        writer.begin(0)
        writer.body(upgrade.body, names, autocommit=False)
        writer.commit(0)
    except Exception:  # Unknown, or anything this reading did not foresee: import it
        return None
    source = RevisionSource(path, "".join(writer.parts), writer.anchors)
    source.existing_types = writer.existing
    return source


def _module(tree: ast.Module) -> tuple[ast.FunctionDef, dict[str, str]]:
    """``upgrade()`` and the imported names, if the module is only what it may hold."""
    names: dict[str, str] = {}
    typing_names: dict[str, Any] = {}
    functions: dict[str, ast.FunctionDef] = {}
    body = tree.body
    if body and _docstring(body[0]):
        body = body[1:]
    futures_allowed = True
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            if not futures_allowed or any(
                a.name not in __future__.all_feature_names for a in node.names
            ):
                raise Unknown("__future__")
            continue
        futures_allowed = False
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            _import(node, names, typing_names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            _assignment(node, names, typing_names)
        elif isinstance(node, ast.FunctionDef) and node.name in ("upgrade", "downgrade"):
            if node.name in functions:
                raise Unknown("defined twice")
            _signature(node)
            functions[node.name] = node
        else:
            raise Unknown(type(node).__name__)
    if "upgrade" not in functions or names.get("op") != "op":
        raise Unknown("no upgrade() or no op")
    return functions["upgrade"], names


def _docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _import(
    node: ast.Import | ast.ImportFrom, names: dict[str, str], typing_names: dict[str, Any]
) -> None:
    for alias in node.names:
        if isinstance(node, ast.Import):
            key: tuple[str | None, str | None] = (alias.name, None)
            local = alias.asname or alias.name
        else:
            key, local = (node.module, alias.name), alias.asname or alias.name
        if node.__class__ is ast.ImportFrom and node.level:
            raise Unknown("relative import")
        if key in _IMPORTS and local not in names:
            names[local] = _IMPORTS[key]
        elif key[0] in _TYPING and key[1] is not None and hasattr(_TYPING[key[0]], key[1]):
            typing_names[local] = getattr(_TYPING[key[0]], key[1])
        elif key[0] == "typing" and key[1] is None:
            typing_names[local] = typing
        else:
            raise Unknown(f"import {key}")


def _assignment(
    node: ast.Assign | ast.AnnAssign, names: dict[str, str], imported: dict[str, Any]
) -> None:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    for target in targets:
        if not isinstance(target, ast.Name) or target.id in names or target.id in imported:
            raise Unknown("assignment target")
        if target.id in ("upgrade", "downgrade", "op", "sa"):
            raise Unknown("assignment target")
    if isinstance(node, ast.AnnAssign):
        _annotation(node.annotation, imported)
    if node.value is not None:
        _literal(node.value)


def _literal(node: ast.expr) -> None:
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        for item in node.elts:
            _literal(item)
    elif not isinstance(node, ast.Constant) or not isinstance(node.value, (str, type(None))):
        raise Unknown("not a literal")


def _annotation(node: ast.expr, imported: dict[str, Any]) -> None:
    """Evaluated when the module runs (without ``from __future__ import annotations``):
    only names of typing and builtins, subscripted or joined with ``|``, which must
    evaluate."""
    for part in ast.walk(node):
        if isinstance(part, ast.Name) and part.id not in imported and part.id not in _BUILTINS:
            raise Unknown("annotation")
        if not isinstance(part, _ANNOTATION_NODES):
            raise Unknown("annotation")
        if isinstance(part, ast.Constant) and part.value is not None:
            raise Unknown("annotation")
    namespace = {**{n: getattr(builtins, n) for n in _BUILTINS if n != "None"}, **imported}
    code = compile(ast.Expression(node), "<annotation>", "eval")
    try:
        eval(code, {"__builtins__": {}}, namespace)  # names of typing and builtins only
    except Exception as exc:  # what the real import would stop on
        raise Unknown("annotation") from exc


_ANNOTATION_NODES = (
    ast.Name,
    ast.Attribute,
    ast.Subscript,
    ast.Tuple,
    ast.BinOp,
    ast.BitOr,
    ast.Constant,
    ast.Load,
)


def _signature(node: ast.FunctionDef) -> None:
    args = node.args
    if node.decorator_list or args.args or args.posonlyargs or args.kwonlyargs:
        raise Unknown("signature")
    if args.vararg or args.kwarg or getattr(node, "type_params", None):
        raise Unknown("signature")
    returns = node.returns
    if returns is not None and not (isinstance(returns, ast.Constant) and returns.value is None):
        raise Unknown("return annotation")


class _Writer:
    """What ``_Capture`` records: the text, and (offset, line of the op call) per write."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.anchors: list[tuple[int, int]] = []
        self.existing: list[ExistingType] = []

    def write(self, sql: str, line: int) -> None:
        text = sql.replace("\t", "    ").strip() + ";\n\n"
        self.anchors.append((self.size, line))
        self.parts.append(text)
        self.size += len(text)

    def begin(self, line: int) -> None:
        self.write("BEGIN", line)

    def commit(self, line: int) -> None:
        self.write("COMMIT", line)

    def body(self, statements: list[ast.stmt], names: dict[str, str], *, autocommit: bool) -> None:
        for node in statements:
            if isinstance(node, ast.Pass) or _docstring(node):
                continue
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                self.call(node.value, names)
            elif isinstance(node, ast.With) and not autocommit and _autocommit(node, names):
                self.commit(node.lineno)
                self.body(node.body, names, autocommit=True)
                self.begin(node.lineno)
            else:
                raise Unknown(type(node).__name__)

    def call(self, node: ast.Call, names: dict[str, str]) -> None:
        call = _value(node, names)
        space, _, name = call.name.partition(".")
        func = node.func
        # the line of the call, which Python reports while it runs, is that of `op.name(`
        if space != "op" or name not in OPS or not isinstance(func, ast.Attribute):
            raise Unknown(call.name)
        if func.value.lineno != node.lineno or func.end_lineno != node.lineno:
            raise Unknown("op call split across lines")
        signature, handler = OPS[name]
        args = bind(signature, call)
        start = self.size
        for sql in handler(args):
            self.write(sql, node.lineno)
        if name == "alter_column" and _present(args, "type_") and _compiled(args, "existing_type"):
            schema, table = args.get("schema"), args["table_name"]
            where = f"{schema}.{table}" if schema else table
            existing = type_sql(args["existing_type"])
            self.existing.append(
                ExistingType(start, self.size, where, args["column_name"], existing)
            )


def _present(args: dict[str, Any], key: str) -> bool:
    return args.get(key) is not None


def _compiled(args: dict[str, Any], key: str) -> bool:
    """A type instance: Alembic compiles it (a class, ``sa.Integer``, it cannot)."""
    value = args.get(key)
    return isinstance(value, Call) and value.called


def _autocommit(node: ast.With, names: dict[str, str]) -> bool:
    """``with op.get_context().autocommit_block():``, on one line."""
    if len(node.items) != 1 or node.items[0].optional_vars is not None:
        return False
    expr = node.items[0].context_expr
    if expr.lineno != node.lineno or expr.end_lineno != node.lineno:
        return False
    match expr:
        case ast.Call(
            func=ast.Attribute(
                value=ast.Call(func=ast.Attribute(value=ast.Name(id=op), attr="get_context")),
                attr="autocommit_block",
            ),
        ):
            inner = expr.func.value  # type: ignore[attr-defined]
            return (
                names.get(op) == "op"
                and not (expr.args or expr.keywords)
                and not (inner.args or inner.keywords)
            )
    return False


def _dotted(node: ast.expr, names: dict[str, str]) -> str:
    """``sa.Column``, ``postgresql.JSONB``, ``sa.func.now``, ``op.add_column``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in names or not parts:
        raise Unknown("not a name of sqlalchemy or alembic")
    dotted = ".".join([names[node.id], *reversed(parts)])
    if len(parts) > 1 and not (dotted.startswith("sa.func.") and len(parts) == 2):
        raise Unknown(dotted)
    return dotted


def _value(node: ast.expr, names: dict[str, str]) -> Any:
    """A literal argument: a constant, a list or tuple of them, or a call of sqlalchemy."""
    if isinstance(node, ast.Constant):
        if node.value is not None and type(node.value) not in (str, int, bool):
            raise Unknown("constant")
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return tuple(_value(item, names) for item in node.elts)
    if isinstance(node, ast.Attribute):
        return Call(_dotted(node, names), called=False)
    if isinstance(node, ast.Call):
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None or keyword.arg in kwargs:
                raise Unknown("**kwargs")
            kwargs[keyword.arg] = _value(keyword.value, names)
        args = tuple(_value(arg, names) for arg in node.args)
        return Call(_dotted(node.func, names), args, kwargs)
    raise Unknown(type(node).__name__)
