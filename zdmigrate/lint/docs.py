"""Rule documentation, generated from each rule module's docstring.

``python -m zdmigrate.lint.docs docs/rules`` rewrites the checked-in pages;
``zdmigrate lint --explain RULE`` prints one of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from zdmigrate.lint._model import Rule
from zdmigrate.lint.registry import all_rules

__all__ = ["expected_pages", "rule_page", "write_pages"]

SECTIONS = ("## Problem", "## Why", "## Safe alternative")


def _body(rule: Rule) -> str:
    lines = rule.doc.splitlines()
    return "\n".join(lines[1:]).strip()


def rule_page(rule: Rule) -> str:
    """The Markdown page of one rule."""
    enabled = "yes" if rule.enabled_by_default else "no (select it to enable)"
    return "\n".join(
        [
            f"# {rule.code} {rule.name}",
            "",
            rule.summary,
            "",
            "| category | default severity | enabled by default |",
            "|---|---|---|",
            f"| {rule.category} | {rule.severity.label} | {enabled} |",
            "",
            _body(rule),
            "",
            f"Suppress one statement with `-- zdmigrate: ignore {rule.name} <reason>`.",
            "",
        ]
    )


def _index() -> str:
    rows = [
        f"| [{r.code}]({r.name}.md) | {r.name} | {r.category} | {r.severity.label} | "
        f"{'yes' if r.enabled_by_default else 'no'} | {r.summary} |"
        for r in all_rules()
    ]
    head = [
        "# Lint rules",
        "",
        "Generated from the rule modules in `zdmigrate/lint/rules/` by",
        "`python -m zdmigrate.lint.docs docs/rules`; do not edit by hand.",
        "",
        "| code | name | category | severity | default | summary |",
        "|---|---|---|---|---|---|",
    ]
    return "\n".join(head + rows) + "\n"


def expected_pages() -> dict[str, str]:
    """File name -> content of every page under ``docs/rules``."""
    pages = {f"{r.name}.md": rule_page(r) for r in all_rules()}
    pages["README.md"] = _index()
    return pages


def write_pages(folder: Path) -> list[str]:
    """Write the pages; return the names of those that changed."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in expected_pages().items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    return changed


if __name__ == "__main__":
    for name in write_pages(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/rules")):
        print(f"wrote {name}")
