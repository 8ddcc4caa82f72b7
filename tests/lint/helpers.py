"""Run ``zdmigrate lint`` in-process, as a user would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from zdmigrate.cli.app import app

FIXTURES = Path(__file__).parent / "fixtures"
ALEMBIC_PROJECT = FIXTURES / "alembic_project"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def lint(*args: str, stdin: str | None = None, config: Path | None = None) -> Run:
    pre = ["--config", str(config)] if config else []
    res = CliRunner().invoke(app, [*pre, "lint", *args], input=stdin, catch_exceptions=False)
    return Run(res.exit_code, res.stdout, res.stderr)


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)
