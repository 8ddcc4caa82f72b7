"""A pgroll migration file (JSON or YAML) -> operations of a migration file.

pgroll's format is close to zdmigrate's: most operations keep their name and
fields. What differs: ``create_table``/``drop_table`` say ``name`` (here
``table``), a column says ``pk`` (here ``primary_key``), a foreign key names
one ``column``, ``check`` and ``references`` carry a constraint name (a
column definition here has none), an index's ``predicate`` is ``where``,
``alter_column``'s ``check``/``unique``/``references`` become
``create_constraint`` operations, and pgroll's ``up``/``down`` for
constraints are not needed (zdmigrate adds constraints ``NOT VALID`` and
validates them later). A column without ``nullable`` is NOT NULL in pgroll
(its ``nullable`` is false unless given), and stays so.

An operation or field with no equivalent is refused with its name: one line,
exit 2.
"""

from __future__ import annotations

from typing import Any

import yaml

from zdmigrate.convert._pg import ParseError, parse_statement
from zdmigrate.convert.draft import Draft
from zdmigrate.errors import SpecError

__all__ = ["convert_pgroll"]

_HINT = "convert what it can: remove or rewrite that part of the pgroll file, and add it by hand"


class _Refused(Exception):
    def __init__(self, field: str, why: str = "has no equivalent in a zdmigrate migration") -> None:
        super().__init__(field)
        self.field = field
        self.why = why


def _check(value: dict[str, Any], allowed: set[str], prefix: str) -> None:
    for key in value:
        if key not in allowed:
            raise _Refused(prefix + key)


def _expression(text: str) -> str:
    """pgroll accepts ``SELECT expr`` for up/down; a migration file wants ``expr``."""
    body = text.strip()
    try:
        node = parse_statement(body)
    except ParseError:
        return body
    from pglast import ast

    simple = (
        isinstance(node, ast.SelectStmt)
        and node.targetList
        and len(node.targetList) == 1
        and not (node.fromClause or node.whereClause or node.groupClause or node.valuesLists)
    )
    if simple and body[:6].upper() == "SELECT":
        return body[6:].strip()
    return body


def _on_delete(ref: dict[str, Any], prefix: str) -> str | None:
    if str(ref.get("on_update") or "NO ACTION").upper() != "NO ACTION":
        raise _Refused(prefix + "on_update")
    if str(ref.get("match_type") or "SIMPLE").upper() != "SIMPLE":
        raise _Refused(prefix + "match_type")
    if ref.get("deferrable") or ref.get("initially_deferred") or ref.get("on_delete_set_columns"):
        raise _Refused(prefix + "deferrable")
    action = str(ref.get("on_delete") or "NO ACTION").lower()
    return None if action == "no action" else action


def _column(col: dict[str, Any], prefix: str, notes: dict[str, str], at: str) -> dict[str, Any]:
    allowed = {"name", "type", "nullable", "unique", "pk", "default", "check"}
    _check(col, allowed | {"references", "comment"}, prefix)
    out: dict[str, Any] = {"name": col["name"], "type": col["type"]}
    if col.get("pk"):
        out["primary_key"] = True
    elif not col.get("nullable", False):
        out["nullable"] = False
    if col.get("default") is not None:
        out["default"] = col["default"]
    if col.get("unique"):
        out["unique"] = True
    if col.get("check"):
        check = col["check"]
        _check(check, {"name", "constraint", "no_inherit"}, prefix + "check.")
        if check.get("no_inherit"):
            raise _Refused(prefix + "check.no_inherit")
        out["check"] = check["constraint"]
        notes[at] = f"the check's name '{check.get('name')}' is not kept (PostgreSQL names it)"
    ref = col.get("references")
    if ref:
        _check(
            ref,
            {
                "name",
                "table",
                "column",
                "on_delete",
                "on_update",
                "match_type",
                "deferrable",
                "initially_deferred",
            },
            prefix + "references.",
        )
        out["references"] = {"table": ref["table"], "columns": [ref["column"]]}
        action = _on_delete(ref, prefix + "references.")
        if action:
            out["references"]["on_delete"] = action
        if ref.get("name"):
            notes[at] = f"the foreign key's name '{ref['name']}' is not kept (PostgreSQL names it)"
    if col.get("comment") is not None:
        out["comment"] = col["comment"]
    return out


def _not_null_note(cols: list[dict[str, Any]], source: list[dict[str, Any]]) -> str | None:
    implicit = [
        c["name"]
        for c, s in zip(cols, source, strict=True)
        if "nullable" not in s and not s.get("pk")
    ]
    if not implicit:
        return None
    return f"pgroll makes a column without 'nullable' NOT NULL; kept so for {', '.join(implicit)}"


def _add_column(op: dict[str, Any]) -> list[Draft]:
    _check(op, {"table", "column", "up"}, "")
    review: dict[str, str] = {}
    col = _column(op["column"], "column.", review, "column")
    fields: dict[str, Any] = {"table": op["table"], "column": col}
    fill = {}
    if op.get("up"):
        fields["up"] = _expression(op["up"])
    elif col.get("nullable") is False and "default" not in col:
        fill["up"] = "a NOT NULL column needs the value of existing rows (an expression)"
    note = _not_null_note([col], [op["column"]])
    if note:
        review["column.nullable"] = note
    return [Draft("add_column", fields, review=review, fill=fill)]


def _create_table(op: dict[str, Any]) -> list[Draft]:
    _check(op, {"name", "columns", "constraints"}, "")
    review: dict[str, str] = {}
    cols = [
        _column(c, f"columns.{i}.", review, f"columns.{i}") for i, c in enumerate(op["columns"])
    ]
    note = _not_null_note(cols, op["columns"])
    if note:
        review[""] = note
    drafts = [Draft("create_table", {"table": op["name"], "columns": cols}, review=review)]
    by_name = {c["name"]: c for c in cols}
    for i, con in enumerate(op.get("constraints") or []):
        prefix = f"constraints.{i}."
        if con.get("type") == "primary_key":
            _check(con, {"name", "type", "columns"}, prefix)
            for name in con["columns"]:
                by_name[name]["primary_key"] = True
                by_name[name].pop("nullable", None)
            continue
        drafts.append(_constraint(con, op["name"], prefix))
    return drafts


def _constraint(con: dict[str, Any], table: str, prefix: str) -> Draft:
    _check(con, {"name", "type", "columns", "check", "references", "table", "up", "down"}, prefix)
    kind = con.get("type")
    if kind not in ("check", "unique", "foreign_key"):
        raise _Refused(prefix + "type", f"'{kind}' has no equivalent in a zdmigrate migration")
    fields: dict[str, Any] = {"table": table, "name": con["name"], "type": kind}
    if con.get("columns") and kind != "check":
        fields["columns"] = list(con["columns"])
    if kind == "check":
        fields["check"] = con["check"]
    if kind == "foreign_key":
        ref = con["references"]
        _check(
            ref,
            {"table", "columns", "on_delete", "on_update", "match_type"},
            prefix + "references.",
        )
        fields["references"] = {"table": ref["table"], "columns": list(ref["columns"])}
        action = _on_delete(ref, prefix + "references.")
        if action:
            fields["references"]["on_delete"] = action
    review = {}
    if con.get("up") or con.get("down"):
        review[""] = "pgroll's up/down are left out: zdmigrate adds the constraint NOT VALID "
        review[""] += "and validates existing rows later, so no rows are rewritten"
    return Draft("create_constraint", fields, review=review)


def _alter_column(op: dict[str, Any]) -> list[Draft]:
    allowed = {"table", "column", "name", "type", "nullable", "default", "up", "down"}
    _check(op, allowed | {"check", "unique", "references"}, "")
    table, column = op["table"], op["column"]
    fields: dict[str, Any] = {"table": table, "column": column}
    for key in ("type", "nullable"):
        if key in op:
            fields[key] = op[key]
    if "default" in op:
        fields |= (
            {"default": op["default"]} if op["default"] is not None else {"drop_default": True}
        )
    if op.get("name"):
        fields["name"] = op["name"]
    drafts = []
    if len(fields) > 2:
        for key in ("up", "down"):
            if op.get(key):
                fields[key] = _expression(op[key])
        drafts.append(Draft("alter_column", fields))
    final = op.get("name") or column
    # pgroll's up/down serve the constraints only when nothing else changes
    updown = {k: op[k] for k in ("up", "down") if op.get(k) and len(fields) == 2}
    if op.get("check"):
        check = op["check"]
        _check(check, {"name", "constraint"}, "check.")
        con = {"name": check["name"], "type": "check", "check": check["constraint"], **updown}
        drafts.append(_constraint(con, table, "check."))
    if op.get("unique"):
        con = {"name": op["unique"]["name"], "type": "unique", "columns": [final], **updown}
        drafts.append(_constraint(con, table, "unique."))
    if op.get("references"):
        ref = op["references"]
        refs = {
            "table": ref["table"],
            "columns": [ref["column"]],
            "on_delete": ref.get("on_delete"),
        }
        con = {"name": ref["name"], "type": "foreign_key", "columns": [final], "references": refs}
        con |= updown
        drafts.append(_constraint(con, table, "references."))
    return drafts


def _create_index(op: dict[str, Any]) -> list[Draft]:
    _check(op, {"name", "table", "columns", "predicate", "method", "unique"}, "")
    fields: dict[str, Any] = {"name": op["name"], "table": op["table"]}
    fields["columns"] = _index_columns(op["columns"])
    if op.get("unique"):
        fields["unique"] = True
    if op.get("method") and op["method"] != "btree":
        fields["method"] = op["method"]
    if op.get("predicate"):
        fields["where"] = op["predicate"]
    return [Draft("create_index", fields)]


def _index_columns(columns: Any) -> list[str]:
    """Index columns: names, or (newer pgroll) mappings with settings; plain ones only."""
    items = list(columns.items()) if isinstance(columns, dict) else list(enumerate(columns))
    out = []
    for key, item in items:
        if isinstance(item, str):
            out.append(item)
            continue
        settings = dict(item or {})
        name = settings.pop("name", None) or settings.pop("column", None) or key
        if str(settings.pop("sort", "ASC")).upper() != "ASC" or settings:
            raise _Refused(
                f"columns.{name}",
                "sort orders, operator classes and collations "
                "have no equivalent in a zdmigrate migration",
            )
        out.append(str(name))
    return out


def _sql(op: dict[str, Any]) -> list[Draft]:
    _check(op, {"up", "down", "onComplete"}, "")
    if op.get("onComplete"):
        raise _Refused("onComplete", "(SQL run at complete) has no equivalent")
    fields = {"up": op["up"]}
    if op.get("down"):
        fields["down"] = op["down"]
    review = {"": "raw SQL: check that it is safe while the old version runs (lint below)"}
    return [Draft("sql", fields, review=review)]


def _drop_column(op: dict[str, Any]) -> list[Draft]:
    _check(op, {"table", "column", "down"}, "")
    fields = {"table": op["table"], "column": op["column"]}
    if op.get("down"):
        fields["down"] = _expression(op["down"])
    return [Draft("drop_column", fields)]


def _simple(kind: str, keys: dict[str, str], allowed: set[str]) -> Any:
    def convert(op: dict[str, Any]) -> list[Draft]:
        _check(op, allowed, "")
        return [Draft(kind, {new: op[old] for new, old in keys.items()})]

    return convert


_OPERATIONS: dict[str, Any] = {
    "add_column": _add_column,
    "alter_column": _alter_column,
    "create_table": _create_table,
    "create_index": _create_index,
    "create_constraint": lambda op: [_constraint(op, op["table"], "")],
    "drop_column": _drop_column,
    "drop_table": _simple("drop_table", {"table": "name"}, {"name"}),
    "drop_index": _simple("drop_index", {"name": "name"}, {"name"}),
    "drop_constraint": _simple(
        "drop_constraint",
        {"table": "table", "name": "name"},
        {"table", "name", "column", "up", "down"},
    ),
    "drop_multicolumn_constraint": _simple(
        "drop_constraint", {"table": "table", "name": "name"}, {"table", "name", "up", "down"}
    ),
    "rename_table": _simple("rename_table", {"from": "from", "to": "to"}, {"from", "to"}),
    "rename_column": _simple(
        "rename_column", {"table": "table", "from": "from", "to": "to"}, {"table", "from", "to"}
    ),
    "sql": _sql,
}


def _operation(item: Any, index: int, where: str) -> list[Draft]:
    if not isinstance(item, dict) or len(item) != 1:
        raise SpecError(f"{where}: operation {index}: not a pgroll operation", _HINT)
    ((kind, body),) = item.items()
    convert = _OPERATIONS.get(kind)
    if convert is None:
        raise SpecError(
            f"{where}: operation {index} ({kind}): a pgroll '{kind}' has no equivalent "
            "in a zdmigrate migration",
            _HINT,
        )
    try:
        if not isinstance(body, dict):
            raise TypeError(kind)
        drafts: list[Draft] = convert(dict(body))
    except _Refused as exc:
        raise SpecError(
            f"{where}: operation {index} ({kind}), field '{exc.field}' {exc.why}", _HINT
        ) from None
    except KeyError as exc:
        raise SpecError(
            f"{where}: operation {index} ({kind}): field '{exc.args[0]}' is missing",
            "check it against pgroll's operation reference",
        ) from None
    except (TypeError, AttributeError, ValueError):
        raise SpecError(
            f"{where}: operation {index} ({kind}): a field has the wrong kind of value",
            "check it against pgroll's operation reference",
        ) from None
    for draft in drafts:
        draft.origin = f"pgroll operation {index}"
    return drafts


def convert_pgroll(text: str, where: str) -> tuple[list[Draft], str | None]:
    """The drafts of every operation, and a description naming the pgroll migration."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: not valid JSON or YAML: {exc}".splitlines()[0]) from None
    if not isinstance(data, dict) or not isinstance(data.get("operations"), list):
        raise SpecError(
            f"{where}: not a pgroll migration: no 'operations' list",
            "give --from sql or --from alembic for other inputs",
        )
    extra = set(data) - {"name", "operations", "version_schema"}
    if extra:
        raise SpecError(f"{where}: unknown pgroll key '{sorted(extra)[0]}'", _HINT)
    drafts = [d for i, op in enumerate(data["operations"], 1) for d in _operation(op, i, where)]
    name = data.get("name")
    return drafts, (f"Converted from the pgroll migration {name}." if name else None)
