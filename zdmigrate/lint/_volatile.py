"""Whether an expression calls a volatile function.

Built-in functions (``pg_catalog``) are looked up in the checked-in copy of
``pg_proc``; any other function (``uuid_generate_v4()`` of an extension,
``app.next_code()``) is as its ``CREATE FUNCTION`` in the linted set declares
it, else as the database says when one is given, and is otherwise taken as
volatile: PostgreSQL makes a function volatile unless it is declared
otherwise, and a wrong "stable" would hide a table rewrite.
"""

from __future__ import annotations

from typing import Any

from zdmigrate.lint._context import Context
from zdmigrate.lint._expr import function_calls
from zdmigrate.lint.volatility import Volatility, builtin_volatility

__all__ = ["volatile_call"]


def _volatility(ctx: Context, schema: str, name: str) -> Volatility:
    found = Volatility.UNKNOWN
    if schema in ("", "pg_catalog"):
        found = builtin_volatility(name)
    if found is Volatility.UNKNOWN:
        declared = ctx.known.function_volatility(schema, name)
        if declared is not None:
            return Volatility(declared)
    db = ctx.options.db
    if found is Volatility.UNKNOWN and db is not None:
        found = db.function_volatility(name, schema)
    return found


def volatile_call(ctx: Context, expr: Any) -> str | None:
    """Why ``expr`` is volatile (``volatile random()``), or None when it is not."""
    for schema, name in function_calls(expr):
        found = _volatility(ctx, schema, name)
        shown = f"{schema}.{name}()" if schema else f"{name}()"
        if found is Volatility.VOLATILE:
            return f"volatile {shown}"
        if found is Volatility.UNKNOWN:
            return f"{shown}, not a built-in function, taken as volatile"
    return None
