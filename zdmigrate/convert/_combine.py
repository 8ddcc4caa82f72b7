"""Changes of one column across a file, as one operation.

A migration changes each column once: ``ALTER COLUMN x TYPE bigint`` then
``ALTER COLUMN x SET NOT NULL`` (one statement or two) become one
``alter_column``, and a ``RENAME COLUMN`` before or after a change of the
same column becomes its ``name``. ``up`` is written with the old names, so a
type change after a rename has the new name put back to the old in its
``up``; ``down`` keeps the new names. Changes that say two different things
of one field stay apart (and ``zdmigrate plan`` says so).
"""

from __future__ import annotations

from typing import Any

from zdmigrate.convert._pg import ident
from zdmigrate.convert.draft import Draft
from zdmigrate.spec.expr import rename_columns

__all__ = ["combine"]

_ORDER = ("table", "column", "type", "nullable", "default", "drop_default", "name", "up", "down")
_KEYS = {"table", "column", "name"}


def _final(draft: Draft) -> tuple[str, str]:
    """(table, the column's name once ``draft`` is done)."""
    f = draft.fields
    if draft.kind == "rename_column":
        return f["table"], f["to"]
    return f["table"], f.get("name") or f["column"]


def _as_alter(draft: Draft) -> Draft:
    if draft.kind == "alter_column":
        return draft
    f = draft.fields
    fields = {"table": f["table"], "column": f["from"], "name": f["to"]}
    return Draft("alter_column", fields, draft.review, draft.fill, draft.origin)


def _is_copy(draft: Draft) -> bool:
    """SET NOT NULL's placeholder ``up``: the column as it is."""
    f = draft.fields
    return f.get("up") == ident(f["column"])


def _join(prev: Draft, later: Draft) -> bool:
    """Fold ``later`` (a change of the column ``prev`` ends with) into ``prev``."""
    head = _as_alter(prev)
    fields = dict(later.fields)
    old, new = head.fields["column"], _final(head)[1]
    if later.kind == "rename_column":
        fields = {"name": fields["to"]}
    elif old != new and fields.get("up"):
        fields["up"] = rename_columns(fields["up"], {new: old})
    fields = {k: v for k, v in fields.items() if k not in ("table", "column")}
    clash = set(head.fields) & set(fields) - _KEYS
    if clash - {"up"} or (clash and not (_is_copy(head) or _is_copy(later))):
        return False
    if "name" in fields and "name" in head.fields:
        return False
    merged: dict[str, Any] = head.fields | fields
    if clash:
        merged["up"] = (later if _is_copy(head) else head).fields["up"]
    for key, other in (("default", "drop_default"), ("drop_default", "default")):
        if key in fields:  # the later change wins, as in PostgreSQL
            merged.pop(other, None)
    head.fields = {k: merged[k] for k in _ORDER if k in merged}
    head.review |= later.review
    head.fill |= later.fill
    if head is not prev:
        prev.kind, prev.fields = head.kind, head.fields
    return True


def _forget(latest: dict[tuple[str, str], Draft], draft: Draft) -> None:
    """What another operation does to a column or table ends folding into earlier changes."""
    if draft.kind not in (
        "add_column",
        "drop_column",
        "create_table",
        "drop_table",
        "rename_table",
    ):
        return
    f = draft.fields
    column = f.get("column")
    name = column.get("name") if isinstance(column, dict) else column
    for table, col in list(latest):
        if table in (f.get("table"), f.get("from")) and (name is None or name == col):
            del latest[(table, col)]


def combine(drafts: list[Draft]) -> list[Draft]:
    out: list[Draft] = []
    latest: dict[tuple[str, str], Draft] = {}
    for draft in drafts:
        if draft.kind not in ("alter_column", "rename_column"):
            _forget(latest, draft)
            out.append(draft)
            continue
        f = draft.fields
        start = (f["table"], f["from"] if draft.kind == "rename_column" else f["column"])
        prev = latest.pop(start, None)
        if prev is not None and _join(prev, draft):
            latest[_final(prev)] = prev
            continue
        out.append(draft)
        latest[_final(draft)] = draft
    return out
