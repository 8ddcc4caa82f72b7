"""Read an input, convert it, check the result, lint what stayed SQL."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zdmigrate.convert.draft import Draft, Note, render
from zdmigrate.errors import SpecError

__all__ = ["KINDS", "Conversion", "convert", "infer_kind"]

KINDS = ("sql", "alembic", "pgroll")


@dataclass(frozen=True)
class Conversion:
    """A converted migration. ``fill`` not empty: the file needs those fields
    before it validates (``zdmigrate convert`` exits 1)."""

    text: str
    kind: str
    operations: int
    review: list[Note] = field(default_factory=list)
    fill: list[Note] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.kind,
            "operations": self.operations,
            "review": [n.to_json() for n in self.review],
            "fill": [n.to_json() for n in self.fill],
            "findings": self.findings,
            "skipped": self.skipped,
            "valid": not self.fill,
        }


def infer_kind(path: str | None, text: str) -> str:
    """``sql``, ``alembic`` or ``pgroll``: from the file's extension, else its content."""
    suffix = Path(path).suffix.lower() if path and path != "-" else ""
    by_suffix = {".sql": "sql", ".py": "alembic", ".json": "pgroll", ".yaml": "pgroll"}
    if suffix in by_suffix or suffix == ".yml":
        return by_suffix.get(suffix, "pgroll")
    if re.search(r"^def upgrade\(", text, re.M):
        return "alembic"
    if text.lstrip().startswith("{") or re.search(r"^operations\s*:", text, re.M):
        return "pgroll"
    return "sql"


def _drafts(text: str, kind: str, where: str) -> tuple[list[Draft], list[str], str | None]:
    if kind == "pgroll":
        from zdmigrate.convert.pgroll import convert_pgroll

        drafts, description = convert_pgroll(text, where)
        return drafts, [], description
    if kind == "alembic":
        from zdmigrate.convert.alembic import convert_revision

        if where == "<stdin>":
            with tempfile.TemporaryDirectory() as folder:
                script = Path(folder) / "revision.py"
                script.write_text(text, encoding="utf-8")
                result = convert_revision(script)
        else:
            result = convert_revision(Path(where))
        return result.drafts, result.skipped, None
    from zdmigrate.convert.sql import convert_source
    from zdmigrate.lint.source import Source

    result = convert_source(Source(where, text))
    return result.drafts, result.skipped, None


def _notes(drafts: list[Draft], attr: str) -> list[Note]:
    return [
        Note(i, d.kind, key, text, d.origin)
        for i, d in enumerate(drafts, 1)
        for key, text in getattr(d, attr).items()
    ]


def _lint(drafts: list[Draft]) -> list[dict[str, Any]]:
    """Lint findings on ``sql`` operations, as zdmigrate runs them: in a transaction
    with a lock_timeout (so ZD213, missing lock_timeout, does not apply)."""
    from zdmigrate.lint import LintSettings, lint_text

    settings = LintSettings(ignore=("ZD213",), assume_in_transaction=True)
    out = []
    for i, draft in enumerate(drafts, 1):
        if draft.kind != "sql":
            continue
        for finding in lint_text(
            str(draft.fields["up"]), settings, path=f"operation {i} (sql)"
        ).findings:
            entry = finding.to_json()
            entry["operation"] = i
            out.append(entry)
    return out


def _header(where: str, kind: str, skipped: list[str]) -> list[str]:
    return [
        f"Written by 'zdmigrate convert' from {where} ({kind}).",
        "Check every REVIEW comment and write every FILL IN field, then run",
        "'zdmigrate validate' and 'zdmigrate plan' on this file.",
        *skipped,
    ]


def convert(text: str, kind: str | None = None, where: str = "<stdin>") -> Conversion:
    """Convert ``text`` (read from ``where``; an Alembic revision is imported from it)."""
    kind = kind or infer_kind(where, text)
    drafts, skipped, description = _drafts(text, kind, where)
    if not drafts:
        raise SpecError(
            f"{where}: nothing to convert (no schema change found)",
            "give the SQL, Alembic revision or pgroll file that changes the schema",
        )
    out = render(drafts, _header(where, kind, skipped), description)
    fill = _notes(drafts, "fill")
    try:
        from zdmigrate.spec import parse_migration

        parse_migration(out, "converted", f"the migration converted from {where}")
    except SpecError as exc:
        if not fill:
            raise SpecError(
                f"{where}: the converted migration does not validate: {exc.message}",
                "change the input there, or write that operation by hand",
            ) from None
    return Conversion(
        text=out,
        kind=kind,
        operations=len(drafts),
        review=_notes(drafts, "review"),
        fill=fill,
        findings=_lint(drafts),
        skipped=skipped,
    )
