"""The ``zdmigrate`` command line: parses, calls ``commands``, renders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from zdmigrate import __version__, commands
from zdmigrate.cli import render
from zdmigrate.cli.context import CliState, emit_json, out_console, run_command
from zdmigrate.spec import json_schema

__all__ = ["app", "main"]

app = typer.Typer(
    name="zdmigrate",
    help="Zero-downtime schema migrations for PostgreSQL: expand, backfill, contract.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
from zdmigrate.cli.lint_cmd import register as _register_lint  # noqa: E402

_register_lint(app)

Format = Annotated[
    render.OutputFormat,
    typer.Option("--format", "-f", help="Output format: text for people, json for machines."),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"zdmigrate {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    database_url: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on 3.10
        typer.Option(
            "--database-url",
            help="PostgreSQL URL. Default: $ZDMIGRATE_DATABASE_URL, then $DATABASE_URL.",
            show_default=False,
        ),
    ] = None,
    embedded: Annotated[
        bool,
        typer.Option("--embedded", help="Use an embedded PostgreSQL server (needs the extra)."),
    ] = False,
    config: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--config", help="pyproject.toml to read \\[tool.zdmigrate] from."),
    ] = None,
    show_traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the Python traceback of an error.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = CliState(database_url, embedded, config, show_traceback)


@app.command()
def validate(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Migration files (.yaml, .yml, .json).")],
    fmt: Format = render.OutputFormat.text,
) -> None:
    """Check migration files offline.

    Example: zdmigrate validate migrations/*.yaml
    """
    migrations = run_command(ctx, lambda: commands.validate([str(f) for f in files]))
    if fmt is render.OutputFormat.json:
        emit_json([render.migration_summary(m) for m in migrations])
    else:
        for m in migrations:
            n = len(m.operations)
            out_console.print(
                f"{m.path}: ok ({n} operation{'' if n == 1 else 's'})", highlight=False
            )


@app.command()
def schema() -> None:
    """Print the JSON Schema of migration files (for editors).

    Example: zdmigrate schema > migration.schema.json
    """
    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
def init(ctx: typer.Context, fmt: Format = render.OutputFormat.text) -> None:
    """Create or upgrade the zdmigrate state schema (idempotent).

    Example: zdmigrate --database-url postgresql://app@db/app init
    """
    state: CliState = ctx.obj
    report = run_command(ctx, lambda: commands.init(state.settings()))
    if fmt is render.OutputFormat.json:
        emit_json(report.to_json())
    elif report.before == report.after:
        out_console.print(f"state schema is up to date (version {report.after})")
    else:
        out_console.print(f"state schema at version {report.after} (was {report.before})")


@app.command()
def status(ctx: typer.Context, fmt: Format = render.OutputFormat.text) -> None:
    """Show migrations, their phases, backfill progress and search_path.

    Example: zdmigrate status --format json
    """
    state: CliState = ctx.obj
    rows = run_command(ctx, lambda: commands.status(state.settings()))
    if fmt is render.OutputFormat.json:
        emit_json(rows)
    else:
        render.status_table(rows, out_console)


def main() -> None:
    app()
