"""Run the CLI in-process, the way a user would call it."""

from __future__ import annotations

from dataclasses import dataclass

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
