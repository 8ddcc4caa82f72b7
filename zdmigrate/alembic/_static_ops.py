"""The statements of each ``op.<name>(...)`` call the static renderer knows.

Each function takes the call's arguments, bound to Alembic's parameter names,
and returns the statements ``alembic upgrade --sql`` writes for it (without
the ``;``), or raises :class:`Unknown`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zdmigrate.alembic._static_sql import (
    INTEGERS,
    Call,
    Unknown,
    default_sql,
    quote,
    table_sql,
    text_sql,
    type_sql,
)

__all__ = ["OPS", "Signature", "bind"]

Args = dict[str, Any]


class Signature:
    """Alembic's parameters of one op: positional ones, then keyword-only ones."""

    def __init__(self, positional: str, keywords: str = "", *, rest: bool = False) -> None:
        names = positional.split()
        self.positional = [n.rstrip("?") for n in names]
        self.required = [n for n in names if not n.endswith("?")]
        self.keywords = set(keywords.split()) | set(self.positional)
        self.rest = rest  # *columns (create_table), kept as args["*"]


def bind(signature: Signature, call: Call) -> Args:
    """The call's arguments by name (what goes to ``*rest`` as ``"*"``)."""
    count = len(signature.positional)
    if len(call.args) > count and not signature.rest:
        raise Unknown(f"{call.name}: too many arguments")
    args = dict(zip(signature.positional, call.args, strict=False))
    for key, value in call.kwargs.items():
        if key not in signature.keywords or key in args:
            raise Unknown(f"{call.name}({key}=)")
        args[key] = value
    if any(name not in args for name in signature.required):
        raise Unknown(f"{call.name}: an argument is missing")
    args["*"] = tuple(call.args[count:])
    return args


def _names(value: Any) -> str:
    if not isinstance(value, (tuple, list)) or not value:
        raise Unknown("not a list of names")
    return ", ".join(quote(v) for v in value)


def _constraint(name: Any) -> str:
    return "" if name is None else f"CONSTRAINT {quote(name)} "


def _bool(args: Args, key: str) -> bool:
    value = args.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Unknown(key)
    return value


def execute(args: Args) -> list[str]:
    return [text_sql(args["sqltext"])]


def _column(value: Any) -> tuple[str, Args]:
    """``sa.Column(name, type, [sa.ForeignKey(...)], **kw)``: its name and arguments."""
    if not isinstance(value, Call) or value.name != "sa.Column" or len(value.args) < 2:
        raise Unknown("not sa.Column(name, type, ...)")
    allowed = {"nullable", "server_default", "primary_key", "autoincrement"}
    if set(value.kwargs) - allowed:
        raise Unknown(f"sa.Column({', '.join(value.kwargs)})")
    name, kind, *keys = value.args
    quote(name)
    args: Args = {**value.kwargs, "type": type_sql(kind), "foreign_keys": keys}
    for key in ("nullable", "primary_key"):
        if key in args and not isinstance(args[key], bool):
            raise Unknown(key)
    # autoincrement=True makes a column of a composite key SERIAL too: not reproduced
    if args.get("autoincrement", False) is not False:
        raise Unknown("autoincrement")
    return name, args


def _column_sql(name: str, args: Args, *, serial: bool = False, not_null: bool = False) -> str:
    kind = INTEGERS[args["type"]] if serial else args["type"]
    sql = f"{quote(name)} {kind}"
    if args.get("server_default") is not None:
        sql += f" DEFAULT {default_sql(args['server_default'])}"
    if not_null or args.get("nullable") is False:
        sql += " NOT NULL"
    return sql


def add_column(args: Args) -> list[str]:
    name, column = _column(args["column"])
    if column["foreign_keys"] or "primary_key" in column or "autoincrement" in column:
        raise Unknown("add_column with a key")
    table = table_sql(args["table_name"], args.get("schema"))
    return [f"ALTER TABLE {table} ADD COLUMN {_column_sql(name, column)}"]


def drop_column(args: Args) -> list[str]:
    table = table_sql(args["table_name"], args.get("schema"))
    return [f"ALTER TABLE {table} DROP COLUMN {quote(args['column_name'])}"]


def drop_table(args: Args) -> list[str]:
    return [f"DROP TABLE {table_sql(args['table_name'], args.get('schema'))}"]


def rename_table(args: Args) -> list[str]:
    table = table_sql(args["old_table_name"], args.get("schema"))
    return [f"ALTER TABLE {table} RENAME TO {quote(args['new_table_name'])}"]


_CASCADES = {"RESTRICT", "CASCADE", "SET NULL", "NO ACTION", "SET DEFAULT"}


def _references(args: Args) -> str:
    sql = ""
    for key, words in (("ondelete", "ON DELETE"), ("onupdate", "ON UPDATE")):
        value = args.get(key)
        if value is not None:
            if value not in _CASCADES:
                raise Unknown(key)
            sql += f" {words} {value}"
    return sql


def _foreign_key(name: Any, local: Any, target: str, remote: Any, args: Args) -> str:
    return (
        f"{_constraint(name)}FOREIGN KEY({_names(local)}) REFERENCES {target} "
        f"({_names(remote)}){_references(args)}"
    )


def create_foreign_key(args: Args) -> list[str]:
    table = table_sql(args["source_table"], args.get("source_schema"))
    target = table_sql(args["referent_table"], args.get("referent_schema"))
    fk = _foreign_key(
        args["constraint_name"], args["local_cols"], target, args["remote_cols"], args
    )
    return [f"ALTER TABLE {table} ADD {fk}"]


def create_unique_constraint(args: Args) -> list[str]:
    table = table_sql(args["table_name"], args.get("schema"))
    name = _constraint(args["constraint_name"])
    return [f"ALTER TABLE {table} ADD {name}UNIQUE ({_names(args['columns'])})"]


def create_primary_key(args: Args) -> list[str]:
    table = table_sql(args["table_name"], args.get("schema"))
    name = _constraint(args["constraint_name"])
    return [f"ALTER TABLE {table} ADD {name}PRIMARY KEY ({_names(args['columns'])})"]


def create_check_constraint(args: Args) -> list[str]:
    table = table_sql(args["table_name"], args.get("schema"))
    name = _constraint(args["constraint_name"])
    return [f"ALTER TABLE {table} ADD {name}CHECK ({text_sql(args['condition'])})"]


def drop_constraint(args: Args) -> list[str]:
    if args.get("type_") not in (None, "foreignkey", "unique", "check", "primary"):
        raise Unknown("type_")
    table = table_sql(args["table_name"], args.get("schema"))
    return [f"ALTER TABLE {table} DROP CONSTRAINT {quote(args['constraint_name'])}"]


def create_index(args: Args) -> list[str]:
    table = table_sql(args["table_name"], args.get("schema"))
    words = ["CREATE", "UNIQUE" if _bool(args, "unique") else "", "INDEX"]
    words.append("CONCURRENTLY" if _bool(args, "postgresql_concurrently") else "")
    words.append("IF NOT EXISTS" if _bool(args, "if_not_exists") else "")
    head = " ".join(w for w in words if w)
    return [f"{head} {quote(args['index_name'])} ON {table} ({_names(args['columns'])})"]


def drop_index(args: Args) -> list[str]:
    if args.get("table_name") is not None:
        quote(args["table_name"])
    words = ["DROP INDEX", "CONCURRENTLY" if _bool(args, "postgresql_concurrently") else ""]
    words.append("IF EXISTS" if _bool(args, "if_exists") else "")
    head = " ".join(w for w in words if w)
    return [f"{head} {table_sql(args['index_name'], args.get('schema'))}"]


def alter_column(args: Args) -> list[str]:
    table = table_sql(args["table_name"], args.get("schema"))
    prefix = f"ALTER TABLE {table} ALTER COLUMN {quote(args['column_name'])}"
    for key in ("existing_type", "type_"):
        if args.get(key) is not None:
            type_sql(args[key])
    if args.get("existing_server_default") is not None:
        default_sql(args["existing_server_default"])
    _bool(args, "existing_nullable")
    out = []
    if args.get("type_") is not None:
        using = args.get("postgresql_using")
        tail = "" if using is None else f" USING {text_sql(using, percent=False)}"
        if "%" in tail:
            raise Unknown("postgresql_using")
        out.append(f"{prefix} TYPE {type_sql(args['type_'])}{tail}")
    elif args.get("postgresql_using") is not None:
        raise Unknown("postgresql_using without type_")
    if args.get("nullable") is not None:
        out.append(f"{prefix} {'DROP' if _bool(args, 'nullable') else 'SET'} NOT NULL")
    if "server_default" in args:
        default = args["server_default"]
        change = "DROP DEFAULT" if default is None else f"SET DEFAULT {default_sql(default)}"
        out.append(f"{prefix} {change}")
    if args.get("new_column_name") is not None:
        new = quote(args["new_column_name"])
        out.append(f"ALTER TABLE {table} RENAME {quote(args['column_name'])} TO {new}")
    return out


def _table_parts(items: tuple[Any, ...]) -> tuple[list[tuple[str, Args]], list[Call]]:
    columns: list[tuple[str, Args]] = []
    constraints: list[Call] = []
    for item in items:
        if isinstance(item, Call) and item.name == "sa.Column":
            if constraints:
                raise Unknown("a column after a constraint")
            columns.append(_column(item))
        elif isinstance(item, Call) and item.called:
            constraints.append(item)
        else:
            raise Unknown("not a column or constraint")
    if not columns or len({name for name, _ in columns}) != len(columns):
        raise Unknown("columns")
    return columns, constraints


def _primary_key(columns: list[tuple[str, Args]], constraints: list[Call]) -> Call | None:
    keys = [c for c in constraints if c.name == "sa.PrimaryKeyConstraint"]
    marked = tuple(name for name, args in columns if args.get("primary_key"))
    if len(keys) > 1 or (keys and marked):
        raise Unknown("two primary keys")
    if keys:
        return keys[0]
    return Call("sa.PrimaryKeyConstraint", marked) if marked else None


def _serial(key: tuple[Any, ...], columns: dict[str, Args]) -> str | None:
    """The column that SQLAlchemy makes SERIAL: a lone integer key without a default."""
    if len(key) != 1:
        return None
    args = columns[key[0]]
    if (
        args["type"] not in INTEGERS
        or args["foreign_keys"]
        or args.get("server_default") is not None
    ):
        return None
    return None if "autoincrement" in args else str(key[0])


def _table_constraint(call: Call, names: set[str]) -> str:
    allowed = (
        {"name", "ondelete", "onupdate"} if call.name == "sa.ForeignKeyConstraint" else {"name"}
    )
    if set(call.kwargs) - allowed:
        raise Unknown(f"{call.name}({', '.join(call.kwargs)})")
    name = call.kwargs.get("name")
    if call.name in ("sa.UniqueConstraint", "sa.PrimaryKeyConstraint"):
        if not call.args or set(call.args) - names:
            raise Unknown(call.name)
        words = "UNIQUE" if call.name == "sa.UniqueConstraint" else "PRIMARY KEY"
        return f"{_constraint(name)}{words} ({_names(call.args)})"
    if call.name == "sa.CheckConstraint" and len(call.args) == 1:
        return f"{_constraint(name)}CHECK ({text_sql(call.args[0])})"
    if call.name == "sa.ForeignKeyConstraint" and len(call.args) == 2:
        local, remote = call.args
        if not isinstance(local, (list, tuple)) or not isinstance(remote, (list, tuple)):
            raise Unknown(call.name)
        if len(local) != len(remote) or set(local) - names:
            raise Unknown(call.name)
        target, columns = _targets(remote)
        return _foreign_key(name, local, target, columns, call.kwargs)
    raise Unknown(call.name)


def _targets(remote: Any) -> tuple[str, list[str]]:
    """``["users.id", ...]`` (or ``"schema.table.column"``): the table and its columns."""
    if not isinstance(remote, (list, tuple)) or not remote:
        raise Unknown("referenced columns")
    tables, columns = set(), []
    for ref in remote:
        parts = ref.split(".") if isinstance(ref, str) else []
        if len(parts) not in (2, 3):
            raise Unknown("referenced column")
        tables.add(table_sql(parts[-2], parts[0] if len(parts) == 3 else None))
        columns.append(parts[-1])
    if len(tables) != 1:
        raise Unknown("referenced columns of several tables")
    return tables.pop(), columns


def _column_foreign_key(name: str, key: Any) -> str:
    if not isinstance(key, Call) or key.name != "sa.ForeignKey" or len(key.args) != 1:
        raise Unknown("not sa.ForeignKey(column)")
    if set(key.kwargs) - {"ondelete", "onupdate", "name"}:
        raise Unknown(f"sa.ForeignKey({', '.join(key.kwargs)})")
    target, columns = _targets([key.args[0]])
    return _foreign_key(key.kwargs.get("name"), [name], target, columns, key.kwargs)


def create_table(args: Args) -> list[str]:
    columns, constraints = _table_parts(args["*"])
    by_name = dict(columns)
    key = _primary_key(columns, constraints)
    key_columns = set(key.args) if key else set()
    serial = _serial(key.args, by_name) if key and set(key.args) <= set(by_name) else None
    lines = []
    for name, column in columns:
        if name in key_columns and column.get("nullable") is True:
            raise Unknown("a nullable primary key column")
        lines.append(_column_sql(name, column, serial=name == serial, not_null=name in key_columns))
    if key is not None:
        lines.append(_table_constraint(key, set(by_name)))
    lines.extend(_table_constraint(c, set(by_name)) for c in constraints if c is not key)
    for name, column in columns:
        lines.extend(_column_foreign_key(name, k) for k in column["foreign_keys"])
    table = table_sql(args["table_name"], args.get("schema"))
    body = ", \n    ".join(lines)
    return [f"CREATE TABLE {table} (\n    {body}\n)"]


Handler = Callable[[Args], list[str]]
_S = Signature
OPS: dict[str, tuple[Signature, Handler]] = {
    "execute": (_S("sqltext"), execute),
    "create_table": (_S("table_name", "schema", rest=True), create_table),
    "add_column": (_S("table_name column", "schema"), add_column),
    "drop_column": (_S("table_name column_name", "schema"), drop_column),
    "drop_table": (_S("table_name", "schema"), drop_table),
    "rename_table": (_S("old_table_name new_table_name", "schema"), rename_table),
    "create_index": (
        _S("index_name table_name columns", "schema unique if_not_exists postgresql_concurrently"),
        create_index,
    ),
    "drop_index": (
        _S("index_name table_name?", "schema if_exists postgresql_concurrently"),
        drop_index,
    ),
    "alter_column": (
        _S(
            "table_name column_name",
            "nullable server_default new_column_name type_ existing_type existing_server_default"
            " existing_nullable schema postgresql_using",
        ),
        alter_column,
    ),
    "create_foreign_key": (
        _S(
            "constraint_name source_table referent_table local_cols remote_cols",
            "onupdate ondelete source_schema referent_schema",
        ),
        create_foreign_key,
    ),
    "create_unique_constraint": (
        _S("constraint_name table_name columns", "schema"),
        create_unique_constraint,
    ),
    "create_primary_key": (_S("constraint_name table_name columns", "schema"), create_primary_key),
    "create_check_constraint": (
        _S("constraint_name table_name condition", "schema"),
        create_check_constraint,
    ),
    "drop_constraint": (_S("constraint_name table_name type_?", "schema"), drop_constraint),
}
