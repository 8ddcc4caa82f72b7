"""``zdmigrate convert``: read the input, convert, write the file, report the notes."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from zdmigrate.cli import render
from zdmigrate.cli.context import emit_json, err_console, run_command
from zdmigrate.errors import ConfigError

__all__ = ["run_convert"]


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(
            f"{file}: cannot read it: {reason}", "give an existing file, or -"
        ) from None


def _say(line: str) -> None:
    err_console.print(line, markup=False, highlight=False)


def run_convert(
    ctx: typer.Context, file: str, kind: str | None, output: Path | None, fmt: render.OutputFormat
) -> int:
    """Exit code: 0 written, 1 written but fields to fill, 2 refused."""
    from zdmigrate.convert import convert

    if output is not None:
        run_command(ctx, lambda: _check_output(output))
    where = "<stdin>" if file == "-" else file
    result = run_command(ctx, lambda: convert(_read(file), kind, where))
    if output is not None:
        run_command(ctx, lambda: _write(output, result.text))
    if fmt is render.OutputFormat.json:
        data = result.to_json() | {"output": str(output) if output else None}
        if output is None:
            data["migration"] = result.text
        emit_json(data)
    else:
        if output is None:
            sys.stdout.write(result.text)
            sys.stdout.flush()
        _report(result, output)
    return 1 if result.fill else 0


def _check_output(output: Path) -> None:
    if output.suffix.lower() not in (".yaml", ".yml"):
        raise ConfigError(
            f"{output}: the migration file convert writes is YAML",
            "name it like migrations/0004_x.yaml",
        )


def _write(output: Path, text: str) -> None:
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{output}: cannot write it: {exc.strerror}") from None


def _report(result: object, output: Path | None) -> None:
    from zdmigrate.convert import Conversion

    assert isinstance(result, Conversion)
    for note in result.fill:
        _say(f"fill in: {note.line()}")
    for note in result.review:
        _say(f"review: {note.line()}")
    for f in result.findings:
        _say(f"lint: operation {f['operation']} (sql): {f['code']} {f['rule']}: {f['message']}")
    where = str(output) if output else "stdout"
    n = result.operations
    summary = (
        f"wrote {where}: {n} operation{'s' if n != 1 else ''}, {len(result.review)} to review, "
        f"{len(result.findings)} lint finding{'s' if len(result.findings) != 1 else ''}"
    )
    if result.fill:
        summary += f"; {len(result.fill)} to fill in before it validates"
    _say(summary)
