"""A migration being written: operations with the notes a person must read.

A :class:`Draft` is one operation as plain data (its fields in file order),
with ``review`` notes (a value convert chose that a person should check) and
``fill`` notes (a required value convert cannot know: the field is left out).
:func:`render` writes the drafts as a migration file, each note a YAML
comment above its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["Draft", "Note", "render"]


@dataclass
class Draft:
    """One operation. Note keys are field paths: ``down``, ``column.check``,
    ``columns.2`` (an item of a list); ``""`` is the operation as a whole."""

    kind: str
    fields: dict[str, Any]
    review: dict[str, str] = field(default_factory=dict)
    fill: dict[str, str] = field(default_factory=dict)
    origin: str = ""  # where it came from, e.g. "line 4"


@dataclass(frozen=True)
class Note:
    """A note as reported: operation number (from 1), kind, field path, text."""

    operation: int
    kind: str
    field: str
    text: str
    origin: str = ""

    def line(self) -> str:
        where = f"operation {self.operation} ({self.kind})"
        if self.field:
            where += f", field '{self.field}'"
        if self.origin:
            where += f" [from {self.origin}]"
        return f"{where}: {self.text}"

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "kind": self.kind,
            "field": self.field,
            "message": self.text,
            "from": self.origin,
        }


def _scalar(value: Any) -> str:
    """``value`` as a YAML scalar safe in flow context (inside ``[...]`` or ``{...}``)."""
    text = yaml.safe_dump([value], default_flow_style=True, width=10**9, allow_unicode=True)
    return text.strip()[1:-1]


def _block_scalar(value: Any) -> str:
    """``value`` as a YAML scalar after ``key: `` (plain where YAML allows it)."""
    text = yaml.safe_dump(value, width=10**9, allow_unicode=True).removesuffix("...\n").strip()
    return _scalar(value) if "\n" in text else text


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


class _Writer:
    def __init__(self, draft: Draft) -> None:
        self.draft = draft
        self.lines: list[str] = []

    def comments(self, path: str, pad: str, *, nested: bool = False) -> None:
        for notes, label in ((self.draft.review, "REVIEW"), (self.draft.fill, "FILL IN")):
            for key, text in notes.items():
                if key == path or (nested and key.startswith(path + ".")):
                    subject = f" {key}" if key and label == "FILL IN" else ""
                    self.lines.append(f"{pad}# {label}{subject}: {text}")

    def block(self, mapping: dict[str, Any], pad: str, prefix: str) -> None:
        for key, value in mapping.items():
            path = prefix + key
            self.comments(path, pad)
            if isinstance(value, dict):
                self.lines.append(f"{pad}{key}:")
                self.block(value, pad + "  ", path + ".")
            elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                self.lines.append(f"{pad}{key}:")
                for i, item in enumerate(value):
                    self.comments(f"{path}.{i}", pad + "  ", nested=True)
                    self.lines.append(f"{pad}  - {_flow(item)}")
            elif isinstance(value, str) and "\n" in value:
                self.lines.append(f"{pad}{key}: |-")
                self.lines.extend(f"{pad}  {line}" if line else "" for line in value.split("\n"))
            elif isinstance(value, list):
                self.lines.append(f"{pad}{key}: {_flow(value)}")
            else:
                self.lines.append(f"{pad}{key}: {_block_scalar(value)}")
        absent = [
            key
            for key in {**self.draft.review, **self.draft.fill}
            if key.startswith(prefix)
            and key[len(prefix) :]
            and "." not in key[len(prefix) :]
            and key[len(prefix) :] not in mapping
        ]
        for key in absent:
            self.comments(key, pad)


def render(drafts: list[Draft], header: list[str], description: str | None) -> str:
    """The migration file: ``header`` lines as comments, then the operations."""
    lines = [f"# {h}" for h in header]
    if description:
        lines.append(f"description: {_block_scalar(description)}")
    lines.append("operations:")
    for draft in drafts:
        writer = _Writer(draft)
        writer.comments("", "  ")
        writer.lines.append(f"  - {draft.kind}:")
        writer.block(draft.fields, "      ", "")
        lines.extend(writer.lines)
    return "\n".join(lines) + "\n"
