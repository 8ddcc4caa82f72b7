"""Imports run one way: each layer imports only the layers listed below it here.

The table is the architecture (docs/architecture.md); a new import across
layers that it does not allow fails this test, function-level imports included.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "zdmigrate"

BASE = {"errors", "_version", "redact", "_pyproject", "_imports", "_versions", "_phases"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "_version": set(),
    "redact": set(),
    "_pyproject": {"errors"},
    "_imports": set(),
    "_versions": set(),
    "_phases": set(),
    "config": BASE,
    "spec": BASE,
    "model": BASE | {"spec"},
    "ops": BASE | {"spec", "model"},
    "plan": BASE | {"spec", "model", "ops"},
    "engine": BASE | {"config", "spec", "model", "plan"},
    "gate": BASE | {"config", "model", "plan", "engine"},
    "commands": BASE | {"config", "spec", "model", "plan", "engine", "gate"},
    # alembic: render (lint's, light) and, above commands, the env.py hooks and the
    # revision helpers (imported on first use, so lint never loads them)
    "alembic": BASE | {"lint", "config", "spec", "model", "plan", "commands"},
    # convert writes migration files from SQL (lint's parser), Alembic revisions, pgroll
    "convert": BASE | {"spec", "lint", "alembic"},
    # lint reads migration files through the public planning functions
    "lint": BASE | {"spec", "model", "plan", "alembic"},
    "embedded": BASE,
    # for applications: light, nothing of the planner
    "sqlalchemy": BASE,
    "psycopg": BASE,
    "demo": BASE | {"config", "spec", "commands"},
    "cli": BASE
    | {"config", "spec", "commands", "lint", "demo", "embedded", "zdmigrate", "convert"},
    "zdmigrate": BASE | {"config", "spec"},
    "__main__": {"cli"},
}
# modules a layer may use of a layer above, named one by one: lint plans migration
# files against a live schema with --database-url, read as engine reads it
ALLOWED_MODULES = {
    ("lint", "zdmigrate.engine.introspect"),
    ("lint", "zdmigrate.engine.db"),
    # the revision helpers print the plan and progress as the command line does
    ("alembic", "zdmigrate.cli.plan_render"),
    ("alembic", "zdmigrate.cli.render"),
}


SHARED_PRIVATE = (
    "zdmigrate._version",
    "zdmigrate._pyproject",
    "zdmigrate._imports",
    "zdmigrate._versions",
    "zdmigrate._phases",
)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "zdmigrate" and node.level == 0:
            out += [f"zdmigrate.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return [m for m in out if m == "zdmigrate" or m.startswith("zdmigrate.")]


def test_every_import_goes_down_the_layers() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        here = _layer(module)
        assert here in ALLOWED, f"{module}: layer '{here}' is not in the table"
        for target in _imports(path):
            there = _layer(target)
            if (
                there != here
                and there not in ALLOWED[here]
                and (here, target) not in ALLOWED_MODULES
            ):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_module_imports_a_private_module_of_another_layer() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        for target in _imports(path):
            last = target.split(".")[-1]
            private = last.startswith("_") and target not in SHARED_PRIVATE
            if _layer(target) != _layer(module) and private:
                wrong.append(f"{module} imports {target}")
    assert wrong == []
