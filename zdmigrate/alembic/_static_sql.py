"""The PostgreSQL text Alembic and SQLAlchemy write for plain values, reproduced.

Used by :mod:`zdmigrate.alembic.static`; every function here either returns the
exact text ``alembic upgrade --sql`` writes or raises :class:`Unknown`, and the
revision is then rendered the real way. tests/alembic/test_static.py compares
both on every construct accepted here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Call", "Unknown", "default_sql", "quote", "table_sql", "text_sql", "type_sql"]


class Unknown(Exception):
    """Something the static renderer does not reproduce exactly: render the real way."""


@dataclass(frozen=True)
class Call:
    """``sa.Column(...)``, ``postgresql.JSONB`` (``called`` False), ``op.f("ix")``..."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    called: bool = True


# SQLAlchemy's PostgreSQL reserved words (sqlalchemy.dialects.postgresql.base.RESERVED_WORDS,
# checked by the tests): such a name is quoted.
RESERVED = frozenset(
    """all analyse analyze and any array as asc asymmetric authorization between binary both
    case cast check collate column constraint create cross current_catalog current_date
    current_role current_schema current_time current_timestamp current_user default deferrable
    desc distinct do else end except false fetch for foreign freeze from full grant group having
    ilike in initially inner intersect into is isnull join leading left like limit localtime
    localtimestamp natural new not notnull null of off offset old on only or order outer over
    overlaps placing primary references returning right select session_user similar some
    symmetric table then to trailing true union unique user using variadic verbose when where
    window with""".split()  # noqa: SIM905 (a list of 102 words, one a line, is harder to read)
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
# what SQLAlchemy's text() reads as a bound parameter (or an escaped colon)
_BIND = re.compile(r"(?<![:\w\\]):\w|\\:")


def quote(name: Any) -> str:
    """An identifier as SQLAlchemy writes it for PostgreSQL; only plain names."""
    if isinstance(name, Call) and name.name == "op.f" and len(name.args) == 1 and not name.kwargs:
        name = name.args[0]
    if not isinstance(name, str) or not _NAME.match(name):
        raise Unknown(f"name {name!r}")
    if name.lower() in RESERVED or name != name.lower():
        return f'"{name}"'
    return name


def table_sql(name: Any, schema: Any) -> str:
    if schema is None:
        return quote(name)
    return f"{quote(schema)}.{quote(name)}"


def text_sql(value: Any, *, percent: bool = True) -> str:
    """A SQL string given to ``op.execute``, ``sa.text`` or a CHECK: SQLAlchemy's text()
    with the psycopg2 paramstyle doubles ``%``; bound parameters are not reproduced."""
    if isinstance(value, Call) and value.name == "sa.text" and not value.kwargs:
        if len(value.args) != 1:
            raise Unknown("sa.text()")
        value = value.args[0]
    if not isinstance(value, str) or _BIND.search(value):
        raise Unknown("not a plain SQL string")
    return value.replace("%", "%%") if percent else value


_PLAIN = {
    "Integer": "INTEGER",
    "INTEGER": "INTEGER",
    "BigInteger": "BIGINT",
    "BIGINT": "BIGINT",
    "SmallInteger": "SMALLINT",
    "SMALLINT": "SMALLINT",
    "Text": "TEXT",
    "TEXT": "TEXT",
    "Boolean": "BOOLEAN",
    "BOOLEAN": "BOOLEAN",
    "Date": "DATE",
    "DATE": "DATE",
    "Float": "FLOAT",
    "LargeBinary": "BYTEA",
    "JSON": "JSON",
    "Uuid": "UUID",
    "UUID": "UUID",
}
_PG_PLAIN = {
    "INTEGER": "INTEGER",
    "BIGINT": "BIGINT",
    "SMALLINT": "SMALLINT",
    "TEXT": "TEXT",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "BYTEA": "BYTEA",
    "JSON": "JSON",
    "JSONB": "JSONB",
    "UUID": "UUID",
    "DOUBLE_PRECISION": "DOUBLE PRECISION",
}
INTEGERS = {"INTEGER": "SERIAL", "BIGINT": "BIGSERIAL", "SMALLINT": "SMALLSERIAL"}


def _kwargs(call: Call, allowed: set[str]) -> dict[str, Any]:
    if set(call.kwargs) - allowed:
        raise Unknown(f"{call.name}({', '.join(call.kwargs)})")
    return call.kwargs


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Unknown("not True or False")
    return value


def _number(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise Unknown("not a number")
    return value


def type_sql(value: Any) -> str:
    """A column type as SQLAlchemy compiles it for PostgreSQL."""
    if not isinstance(value, Call):
        raise Unknown(f"type {value!r}")
    space, _, name = value.name.partition(".")
    if (space == "sa" and name in _PLAIN) or (space == "postgresql" and name in _PG_PLAIN):
        return _plain_type(value, space, name)
    if space not in ("sa", "postgresql") or (value.args and not value.called):
        raise Unknown(value.name)
    if name in ("String", "VARCHAR", "Unicode") and (space == "sa" or name == "VARCHAR"):
        return _sized("VARCHAR", value)
    if name in ("DateTime", "TIMESTAMP", "Time", "TIME") and (space == "sa" or name.isupper()):
        zone = _flag(_kwargs(value, {"timezone"}).get("timezone", False))
        if value.args:
            raise Unknown(value.name)
        kind = "TIME" if name.lower() == "time" else "TIMESTAMP"
        return f"{kind} WITH{'' if zone else 'OUT'} TIME ZONE"
    if name in ("Numeric", "NUMERIC") and (space == "sa" or name == "NUMERIC"):
        return _numeric(value)
    raise Unknown(value.name)


def _plain_type(value: Call, space: str, name: str) -> str:
    if value.args:
        raise Unknown(value.name)
    if name == "JSONB":
        if "astext_type" in _kwargs(value, {"astext_type"}):
            type_sql(value.kwargs["astext_type"])
    else:
        for flag in _kwargs(value, {"as_uuid"} if name in ("UUID", "Uuid") else set()).values():
            _flag(flag)
    return (_PLAIN if space == "sa" else _PG_PLAIN)[name]


def _sized(sql: str, value: Call) -> str:
    kwargs = _kwargs(value, {"length"})
    if len(value.args) + len(kwargs) > 1:
        raise Unknown(value.name)
    sizes = [*value.args, *kwargs.values()]
    return f"{sql}({_number(sizes[0])})" if sizes and sizes[0] is not None else sql


def _numeric(value: Call) -> str:
    kwargs = _kwargs(value, {"precision", "scale"})
    names = ("precision", "scale")
    if len(value.args) > 2 or any(n in kwargs for n in names[: len(value.args)]):
        raise Unknown(value.name)
    given = {**dict(zip(names, value.args, strict=False)), **kwargs}
    precision, scale = given.get("precision"), given.get("scale")
    if precision is None:
        if scale is not None:
            raise Unknown(value.name)
        return "NUMERIC"
    if scale is None:
        return f"NUMERIC({_number(precision)})"
    return f"NUMERIC({_number(precision)}, {_number(scale)})"


_FUNCTIONS = {"sa.false": "false", "sa.true": "true", "sa.func.now": "now()"}


def default_sql(value: Any) -> str:
    """A server_default: a string (quoted), ``sa.text()`` (as is), false(), true(), now()."""
    if isinstance(value, str):
        if "\\" in value or "%" in value or not value.isprintable():
            raise Unknown("server_default string")
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, Call) and value.name in _FUNCTIONS:
        if value.args or value.kwargs or not value.called:
            raise Unknown(value.name)
        return _FUNCTIONS[value.name]
    sql = text_sql(value, percent=False)
    if "%" in sql or "\\" in sql or not isinstance(value, Call):
        raise Unknown("server_default text")
    return sql
