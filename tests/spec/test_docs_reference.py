"""docs/migration-files.md's "At a glance" table shows each operation's fields as the
loader accepts them: a field added, renamed or made required shows up there or fails."""

from __future__ import annotations

import re
from pathlib import Path

from zdmigrate.spec.models import OPERATION_MODELS

DOC = Path(__file__).parents[2] / "docs" / "migration-files.md"
ROW = re.compile(r"^\| \[`(\w+)`\]\(#\w+\) \|(.*)\|(.*)\|$")
NAME = re.compile(r"`(\w+)`")


def _glance() -> dict[str, tuple[set[str], set[str]]]:
    text = DOC.read_text()
    section = text.split("### At a glance", 1)[1].split("\n### ", 1)[0]
    rows = {}
    for line in section.splitlines():
        found = ROW.match(line)
        if found:
            op, required, optional = found.groups()
            rows[op] = (set(NAME.findall(required)), set(NAME.findall(optional)))
    return rows


def test_at_a_glance_lists_every_operation_with_exactly_its_fields() -> None:
    rows = _glance()
    assert list(rows) == list(OPERATION_MODELS)
    for op, model in OPERATION_MODELS.items():
        fields = {name: f for name, f in model.model_fields.items() if name != "op"}
        accepted = {f.alias or name for name, f in fields.items()}
        required = {f.alias or name for name, f in fields.items() if f.is_required()}
        shown_required, shown_optional = rows[op]
        assert shown_required | shown_optional == accepted, op
        assert required <= shown_required, f"{op}: {required - shown_required} not shown required"
        assert not shown_optional & required, f"{op}: {shown_optional & required} shown optional"
