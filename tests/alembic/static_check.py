"""While a test runs, every revision rendered statically is also rendered the real way
(imported, Alembic offline), and the two must be the same: so every Alembic revision
the tests lint checks the static renderer too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zdmigrate.alembic import static
from zdmigrate.alembic.render import RevisionSource, render_imported


def rendered(source: RevisionSource) -> tuple[object, ...]:
    """What lint reads of a rendering."""
    problems = [(p.offset, p.message, p.rule, p.help) for p in source.problems]
    return (source.path, source.sql, source.anchors, source.existing_types, problems)


@pytest.fixture(autouse=True)
def static_equals_imported(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = static.render_static

    def checked(path: Path) -> RevisionSource | None:
        source = original(path)
        if source is not None:
            assert rendered(source) == rendered(render_imported(path)), path
        return source

    monkeypatch.setattr(static, "render_static", checked)
    yield
