"""Run the CLI in-process, the way a user would call it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from zdmigrate.cli.app import app


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def zdm(*args: str, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner()
    res = runner.invoke(app, list(args), env=env, catch_exceptions=False)
    return Result(res.exit_code, res.stdout, res.stderr)


@dataclass
class Project:
    """A project folder (its ``pyproject.toml``) and the database its commands run on."""

    url: str
    folder: Path

    def zdm(self, *args: str) -> Result:
        config = str(self.folder / "pyproject.toml")
        return zdm("--database-url", self.url, "--config", config, *args)

    def ok(self, *args: str) -> Result:
        """Run a command that must succeed."""
        res = self.zdm(*args)
        assert res.exit_code == 0, res.stderr + res.stdout
        return res
