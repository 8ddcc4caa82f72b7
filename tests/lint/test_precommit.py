"""The pre-commit hooks run ``zdmigrate lint`` on the files they should."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

HOOKS = Path(__file__).parents[2] / ".pre-commit-hooks.yaml"


def test_hooks_lint_sql_and_alembic_revisions() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load(HOOKS.read_text(encoding="utf-8"))}
    assert set(hooks) == {"zdmigrate-lint", "zdmigrate-lint-alembic"}
    for hook in hooks.values():
        assert hook["entry"] == "zdmigrate lint"
        assert hook["language"] == "python"
    sql = re.compile(hooks["zdmigrate-lint"]["files"])
    alembic = re.compile(hooks["zdmigrate-lint-alembic"]["files"])
    assert sql.search("migrations/0001_init.sql")
    assert not sql.search("app/models.py")
    assert alembic.search("alembic/versions/0001_init.py")
    assert alembic.search("versions/0001_init.py")
    assert not alembic.search("app/versions_helper.py")
