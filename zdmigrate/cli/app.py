"""The ``zdmigrate`` command line: parses, calls ``commands``, renders."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from zdmigrate._version import __version__
from zdmigrate.cli import lint_cmd, render
from zdmigrate.cli._help import TidyGroup, setting_default
from zdmigrate.cli.context import CliState, emit_json, err_console, out_console, run_command

if TYPE_CHECKING:
    from zdmigrate.commands import PhaseResult

__all__ = ["app", "main"]

app = typer.Typer(
    name="zdmigrate",
    cls=TidyGroup,
    help="Zero-downtime schema migrations for PostgreSQL: expand, backfill, contract.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command(
    name="lint",
    help=lint_cmd.SUMMARY + "\n\nOptions: zdmigrate lint --help",
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def _lint(ctx: typer.Context) -> None:
    # The options are lint_cmd's (argparse): the console script reaches it without typer.
    state = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
    glob = lint_cmd.LintGlobals(state.database_url, state.config, state.show_traceback)
    raise typer.Exit(lint_cmd.run(list(ctx.args), glob))


Format = Annotated[
    render.OutputFormat,
    typer.Option("--format", "-f", help="Output format: text for people, json for machines."),
]


class Mode(str, enum.Enum):
    version = "version"
    physical = "physical"


ModeOpt = Annotated[
    Optional[Mode],  # noqa: UP045
    typer.Option(
        "--mode",
        help="version: the new app reads and writes through a version schema of views; "
        "physical: through the tables (fewer operations allowed)." + setting_default("mode"),
        show_default=False,
    ),
]


def _mode(mode: Mode | None) -> str | None:
    return mode.value if mode is not None else None


SchemaFileOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--schema-file",
        help="Plan against this schema instead of a database: pg_dump --schema-only output "
        "or a file from 'zdmigrate snapshot'.",
        show_default=False,
    ),
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
        typer.Option(
            "--config",
            help="pyproject.toml to read \\[tool.zdmigrate] from. Default: the nearest one, "
            "in the working folder or above.",
        ),
    ] = None,
    show_traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the Python traceback of an error.")
    ] = False,
    schema: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--schema",
            help="Schema of the tables. Default: [tool.zdmigrate] schema, else public; "
            "a migration file's 'schema:' wins.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = CliState(database_url, embedded, config, show_traceback, schema)


@app.command()
def validate(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Migration files (.yaml, .yml, .json), or folders of them.", metavar="FILE"
        ),
    ],
    fmt: Format = render.OutputFormat.text,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Also plan each file against the schema: the database URL, --schema-file, "
            "else the earlier files beside it.",
        ),
    ] = False,
    schema_file: SchemaFileOpt = None,
) -> None:
    """Check migration files (offline unless --deep is given a database URL).

    Example: zdmigrate validate --deep --schema-file schema.sql migrations/*.yaml
    """
    from zdmigrate import commands

    state: CliState = ctx.obj
    migrations = run_command(
        ctx,
        lambda: commands.validate(
            [str(f) for f in files],
            state.settings() if deep else None,
            deep,
            str(schema_file) if schema_file is not None else None,
        ),
    )
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
    from zdmigrate.spec import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
def init(ctx: typer.Context, fmt: Format = render.OutputFormat.text) -> None:
    """Create or upgrade the zdmigrate state schema (idempotent).

    Example: zdmigrate --database-url postgresql://app@db/app init
    """
    from zdmigrate import commands

    state: CliState = ctx.obj
    report = run_command(ctx, lambda: commands.init(state.settings()))
    if fmt is render.OutputFormat.json:
        emit_json(report.to_json())
    elif report.before == report.after:
        out_console.print(f"state schema is up to date (version {report.after})")
    else:
        out_console.print(f"state schema at version {report.after} (was {report.before})")


@app.command()
def status(
    ctx: typer.Context,
    fmt: Format = render.OutputFormat.text,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            "-w",
            help="Refresh every --interval seconds, until Ctrl-C or until no zdmigrate "
            "process is at work (expanding, backfilling, completing, rolling back): "
            "phases, backfill progress, rate and time left, the throttle, replica lag, "
            "the gate's verdict. Without a terminal, one block (or JSON line) per refresh.",
        ),
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", "-n", help="Seconds between refreshes.", min=0.1)
    ] = 2.0,
) -> None:
    """Show migrations, their phases, backfill progress and search_path.

    Example: zdmigrate status --watch
    """
    from zdmigrate import commands

    state: CliState = ctx.obj
    if watch:
        settings = run_command(ctx, lambda: state.settings())
        run_command(
            ctx,
            lambda: render.watch_status(
                lambda: commands.status_report(settings),
                interval,
                out_console,
                as_json=fmt is render.OutputFormat.json,
            ),
        )
        return
    rows = run_command(ctx, lambda: commands.status(state.settings()))
    if fmt is render.OutputFormat.json:
        emit_json(rows)
    else:
        render.status_table(rows, out_console)


@app.command()
def new(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the migration does, e.g. add_users_country.")],
    folder: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--dir",
            help="The folder of migration files.  [default: [tool.zdmigrate] migrations_dir, "
            "else migrations, next to pyproject.toml]",
            show_default=False,
        ),
    ] = None,
    fmt: Format = render.OutputFormat.text,
) -> None:
    """Write a numbered migration file to fill in (the number after the highest there).

    The file lists commented examples of the common operations and has none yet:
    validate, plan and apply refuse it until one is written.

    Example: zdmigrate new add_users_country
    """
    from zdmigrate import commands
    from zdmigrate.config import find_pyproject

    state: CliState = ctx.obj

    def go() -> Any:
        project = state.config or find_pyproject()
        root = project.parent if project is not None else None
        where = str(folder) if folder is not None else None
        return commands.new(state.settings(), name, where, root)

    report = run_command(ctx, go)
    if fmt is render.OutputFormat.json:
        emit_json(report.to_json())
        return
    made = " (new folder)" if report.created_folder else ""
    out_console.print(f"wrote {report.path}{made}", highlight=False)
    out_console.print(
        f"fill in its operations, then: zdmigrate validate {report.path}", highlight=False
    )


class PlanFormat(str, enum.Enum):
    text = "text"
    markdown = "markdown"
    json = "json"
    sql = "sql"


@app.command()
def plan(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The migration file.")],
    fmt: Annotated[
        PlanFormat,
        typer.Option(
            "--format",
            "-f",
            help="text, markdown (for a pull request), json, or sql (a psql script).",
        ),
    ] = PlanFormat.text,
    mode: ModeOpt = None,
    schema_file: SchemaFileOpt = None,
) -> None:
    """Show every step of every phase: SQL, lock, rewrite/scan, estimates.

    The schema comes from the database URL (and row counts with it), else from
    --schema-file (a pg_dump --schema-only dump or a zdmigrate snapshot), else
    from the earlier migration files beside FILE.

    Example: zdmigrate plan migrations/0003_rename_email.yaml --format markdown
    """
    from zdmigrate import commands
    from zdmigrate.cli.plan_render import plan_markdown, plan_sql, plan_text

    state: CliState = ctx.obj
    report = run_command(
        ctx,
        lambda: commands.plan(
            state.settings(mode=_mode(mode)),
            str(file),
            str(schema_file) if schema_file is not None else None,
        ),
    )
    if fmt is PlanFormat.json:
        emit_json(report.to_json())
    elif fmt is PlanFormat.markdown:
        typer.echo(plan_markdown(report), nl=False)
    elif fmt is PlanFormat.sql:
        typer.echo(plan_sql(report), nl=False)
    else:
        typer.echo(plan_text(report))


@app.command()
def snapshot(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The snapshot file to write (JSON).")
    ],
    schemas: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--schema", help="A schema to include (repeat; default: the configured one)."),
    ] = None,
    fmt: Format = render.OutputFormat.text,
) -> None:
    """Write the schema model of a database to a file, for plan and lint in CI.

    Keep the file in the repository; then 'zdmigrate plan --schema-file' and
    'zdmigrate lint --schema-file' need no database access.

    Example: zdmigrate snapshot -o schema.json
    """
    from zdmigrate import commands

    state: CliState = ctx.obj
    report = run_command(
        ctx, lambda: commands.snapshot(state.settings(), str(output), list(schemas or []))
    )
    if fmt is render.OutputFormat.json:
        emit_json(report.to_json())
        return
    for name, count in report.schemas.items():
        out_console.print(f"{report.path}: schema {name}, {count} tables", highlight=False)


@app.command()
def apply(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Migration files, or folders of them (applied in file name order).",
            metavar="FILE",
            show_default=False,
        ),
    ],
    fmt: Format = render.OutputFormat.text,
    mode: ModeOpt = None,
    lock_timeout_ms: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            help="lock_timeout for each DDL step, in ms."
            + setting_default("lock_timeout_ms", " ms"),
            show_default=False,
        ),
    ] = None,
    lock_retry_budget_s: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            help="Give up on a lock after retrying this long, in s."
            + setting_default("lock_retry_budget_s", " s"),
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            help="First backfill batch size, in rows." + setting_default("batch_size", " rows"),
            show_default=False,
        ),
    ] = None,
    target_batch_ms: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            help="Target time per backfill batch, in ms."
            + setting_default("target_batch_ms", " ms"),
            show_default=False,
        ),
    ] = None,
    verify: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--verify/--no-verify",
            help="Verify every row after the backfill.  [default: --verify]",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Change nothing: show the plan against the live schema and the checks "
            "that need no change (another zdmigrate, migrations in flight, privileges, "
            "expressions, conflicting locks, old transactions, sizes and estimates). "
            "Exit 0 when apply would go ahead, 1 when a check says it would not.",
        ),
    ] = False,
) -> None:
    """Expand and backfill: both the old and the new app version work afterwards.

    Running it again resumes where it stopped. Given a folder (or several files) it
    applies, in order, what is not applied yet and reports the rest (already expanded,
    already completed) with exit 0: a deploy may run it every time.

    Example: zdmigrate apply migrations/
    """
    from zdmigrate import commands

    state: CliState = ctx.obj
    settings = run_command(
        ctx,
        lambda: state.settings(
            mode=_mode(mode),
            lock_timeout_ms=lock_timeout_ms,
            lock_retry_budget_s=lock_retry_budget_s,
            batch_size=batch_size,
            target_batch_ms=target_batch_ms,
            verify=verify,
        ),
    )
    paths = [str(f) for f in files]
    if dry_run:
        found = run_command(ctx, lambda: commands.dry_run(settings, paths))
        if fmt is render.OutputFormat.json:
            emit_json(
                {
                    "go_ahead": all(d.go_ahead for d in found),
                    "migrations": [d.to_json() for d in found],
                }
            )
        else:
            render.dry_run(found, out_console)
        raise typer.Exit(0 if all(d.go_ahead for d in found) else 1)
    with render.ProgressView(err_console) as view:
        results = run_command(
            ctx, lambda: commands.apply_all(settings, paths, view.echo, view.progress)
        )
    if fmt is render.OutputFormat.json:
        one = len(files) == 1 and not files[0].is_dir()
        emit_json(results[0].to_json() if one else [r.to_json() for r in results])
        return
    for result in results:
        render.apply_result(result, out_console)


CodeOpt = Annotated[
    Optional[list[Path]],  # noqa: UP045
    typer.Option(
        "--code",
        help="Application code to scan for what contract removes (SQL strings, SQLAlchemy "
        "models); a file or folder, repeatable.",
    ),
]
ModelsOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--models",
        help="module:attribute of the app's SQLAlchemy MetaData or declarative base; repeatable.",
    ),
]


WindowOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--window",
        help="How long statements and writes are watched when no earlier gate run is "
        "old enough (30s, 10m); [tool.zdmigrate.gate] window sets another default.  "
        "[default: 60 s]",
        show_default=False,
    ),
]


IgnoreAppOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--ignore-application",
        help="Do not count sessions with this application_name (a glob; repeatable), "
        "besides [tool.zdmigrate.gate] ignore-applications.",
    ),
]
IgnoreRoleOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--ignore-role",
        help="Do not count sessions of this role (a glob; repeatable): a pooler's own "
        "connections, a monitoring agent.",
    ),
]


def _gate_options(
    state: CliState,
    code: list[Path] | None,
    models: list[str] | None,
    window: str | None,
    apps: list[str] | None,
    roles: list[str] | None,
    rebaseline: bool = False,
) -> Any:
    from zdmigrate.commands import GateOptions, Ignored
    from zdmigrate.config import duration_s

    seconds = duration_s(window) if window is not None else state.settings().gate.window
    return GateOptions(
        tuple(str(c) for c in code or ()),
        tuple(models or ()),
        window_s=seconds,
        ignored=Ignored(tuple(apps or ()), tuple(roles or ())),
        rebaseline=rebaseline,
    )


def _show_gate(report: Any, fmt: render.OutputFormat) -> None:
    if fmt is render.OutputFormat.json:
        emit_json(report.to_json())
    else:
        render.gate_report(report, out_console)


@app.command()
def gate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The migration's name (its file's stem).")],
    code: CodeOpt = None,
    models: ModelsOpt = None,
    window: WindowOpt = None,
    ignore_application: IgnoreAppOpt = None,
    ignore_role: IgnoreRoleOpt = None,
    rebaseline: Annotated[
        bool,
        typer.Option(
            "--rebaseline",
            help="Judge from now on: sessions connected before now count as old, and "
            "counters start a new window (after the new version is deployed).",
        ),
    ] = False,
    fmt: Format = render.OutputFormat.text,
) -> None:
    """Is anything old still using what contract removes? Exit 0 clear, 1 blocked.

    Example: zdmigrate gate 0004_orders_amount_bigint --code src/
    """
    from zdmigrate import commands

    state: CliState = ctx.obj
    options = run_command(
        ctx,
        lambda: _gate_options(
            state, code, models, window, ignore_application, ignore_role, rebaseline
        ),
    )
    with render.ProgressView(err_console) as view:
        report = run_command(ctx, lambda: commands.gate(state.settings(), name, options, view.echo))
    _show_gate(report, fmt)
    raise typer.Exit(0 if report.verdict == "clear" else 1)


@app.command()
def complete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The migration's name (its file's stem).")],
    force: Annotated[bool, typer.Option(help="Contract even if the gate finds evidence.")] = False,
    code: CodeOpt = None,
    models: ModelsOpt = None,
    window: WindowOpt = None,
    ignore_application: IgnoreAppOpt = None,
    ignore_role: IgnoreRoleOpt = None,
    fmt: Format = render.OutputFormat.text,
) -> None:
    """Gate, then contract: drop old columns, triggers and old version schemas.

    While the gate is blocked nothing changes and the exit code is 1;
    --force contracts anyway and writes the override to the audit log.

    Example: zdmigrate complete 0004_orders_amount_bigint
    """
    from zdmigrate import commands
    from zdmigrate.errors import GateRefused

    state: CliState = ctx.obj
    options = run_command(
        ctx,
        lambda: _gate_options(state, code, models, window, ignore_application, ignore_role),
    )

    def run(echo: Any) -> PhaseResult:
        try:
            return commands.complete(state.settings(), name, echo, force, options)
        except GateRefused as refused:
            _show_gate(refused.report, fmt)
            raise

    with render.ProgressView(err_console) as view:
        result = run_command(ctx, lambda: run(view.echo))
    _phase_result(result, fmt)


@app.command()
def rollback(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The migration's name (its file's stem).")],
    force: Annotated[
        bool, typer.Option(help="Roll back even while new-version clients are found.")
    ] = False,
    ignore_application: IgnoreAppOpt = None,
    ignore_role: IgnoreRoleOpt = None,
    fmt: Format = render.OutputFormat.text,
) -> None:
    """Undo expand at any point before contract; removes every trace.

    While sessions or statements of the new version are found, nothing changes
    and the exit code is 1; --force rolls back anyway (written to the audit log).

    Example: zdmigrate rollback 0004_orders_amount_bigint
    """
    from dataclasses import replace

    from zdmigrate import commands
    from zdmigrate.errors import GateRefused

    state: CliState = ctx.obj
    options = run_command(
        ctx, lambda: _gate_options(state, None, None, None, ignore_application, ignore_role)
    )

    def run(echo: Any) -> PhaseResult:
        try:
            return commands.rollback(state.settings(), name, echo, replace(options, force=force))
        except GateRefused as refused:
            _show_gate(refused.report, fmt)
            raise

    with render.ProgressView(err_console) as view:
        result = run_command(ctx, lambda: run(view.echo))
    _phase_result(result, fmt)


@app.command()
def cleanup(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option(help="Drop them even while sessions use them (audited).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be dropped; drop nothing.")
    ] = False,
    ignore_application: IgnoreAppOpt = None,
    ignore_role: IgnoreRoleOpt = None,
    fmt: Format = render.OutputFormat.text,
) -> None:
    """Drop the version schemas of older versions that contract kept while in use.

    A later migration's contract drops the version schema of the one before; it
    keeps it while a session uses it (declares that version, holds its views in
    a transaction, or runs a query through it). This drops those no session
    uses now. Exit 0 when none is left, 1 when some are still in use.

    Example: zdmigrate cleanup --dry-run
    """
    from zdmigrate import commands

    state: CliState = ctx.obj
    options = run_command(
        ctx, lambda: _gate_options(state, None, None, None, ignore_application, ignore_role)
    )
    with render.ProgressView(err_console) as view:
        result = run_command(
            ctx,
            lambda: commands.cleanup(
                state.settings(), view.echo, options.ignored, force=force, dry_run=dry_run
            ),
        )
    if fmt is render.OutputFormat.json:
        emit_json(result.to_json())
    else:
        verb = "would drop" if dry_run else "dropped"
        for entry in result.dropped:
            out_console.print(
                f"{verb} {entry['version_schema']} ({entry['migration']})", highlight=False
            )
        for entry in result.kept:
            out_console.print(
                f"kept {entry['version_schema']} ({entry['migration']}): "
                f"{entry['evidence'][0]['summary']}",
                highlight=False,
            )
        if not result.dropped and not result.kept:
            out_console.print("no older version schema is left to drop", highlight=False)
    if result.kept:
        raise typer.Exit(1)


@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The migration whose rows to check.")],
    limit: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            help="List at most this many keys per table." + setting_default("verify_report_limit"),
            show_default=False,
        ),
    ] = None,
    fmt: Format = render.OutputFormat.text,
) -> None:
    """Check that every row's new columns equal up(old) (or its old ones down(new)).

    Exit 0 when all agree, 1 when some rows do not (their keys are listed).

    Example: zdmigrate verify 0004_orders_amount_bigint --limit 5
    """
    from zdmigrate import commands

    state: CliState = ctx.obj
    report = run_command(
        ctx, lambda: commands.verify(state.settings(verify_report_limit=limit), name)
    )
    if fmt is render.OutputFormat.json:
        emit_json(report.to_json())
    else:
        out_console.print(report.summary(), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def pause(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The migration whose backfill should pause.")],
    fmt: Format = render.OutputFormat.text,
) -> None:
    """Pause a running backfill after its current batch (holds no locks while paused).

    Example: zdmigrate pause 0004_orders_amount_bigint
    """
    from zdmigrate import commands

    state: CliState = ctx.obj
    _phase_result(run_command(ctx, lambda: commands.pause(state.settings(), name, True)), fmt)


@app.command()
def resume(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The paused migration.")],
    fmt: Format = render.OutputFormat.text,
) -> None:
    """Let a paused backfill continue.

    Example: zdmigrate resume 0004_orders_amount_bigint
    """
    from zdmigrate import commands

    state: CliState = ctx.obj
    _phase_result(run_command(ctx, lambda: commands.pause(state.settings(), name, False)), fmt)


class ConvertFrom(str, enum.Enum):
    sql = "sql"
    alembic = "alembic"
    pgroll = "pgroll"


@app.command()
def convert(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(help="SQL file, Alembic revision (.py) or pgroll file; - for stdin.")
    ] = "-",
    source: Annotated[
        Optional[ConvertFrom],  # noqa: UP045
        typer.Option(
            "--from",
            help="What FILE is. Default: from its extension (.sql, .py, .json/.yaml), "
            "else its content.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output", "-o", help="The migration file to write (.yaml); default stdout."),
    ] = None,
    fmt: Format = render.OutputFormat.text,
) -> None:
    """Write a migration file from SQL, an Alembic revision or a pgroll migration.

    Values to check are marked '# REVIEW', required values it cannot know
    '# FILL IN' (then it exits 1: the file does not validate until they are
    written). What has no operation stays a 'sql' operation, and its lint
    findings are printed. See docs/migration-files.md.

    Example: zdmigrate convert 0042_orders.sql -o migrations/0004_orders.yaml
    """
    from zdmigrate.cli.convert_cmd import run_convert

    raise typer.Exit(run_convert(ctx, file, source.value if source else None, output, fmt))


def _phase_result(result: PhaseResult, fmt: render.OutputFormat) -> None:
    if fmt is render.OutputFormat.json:
        emit_json(result.to_json())
    else:
        out_console.print(f"{result.name}: {result.phase}", highlight=False)
        for entry in result.kept:
            out_console.print(
                f"kept {entry['version_schema']} of {entry['migration']}: in use "
                f"({entry['evidence'][0]['summary']}); 'zdmigrate cleanup' drops it later",
                highlight=False,
            )


@app.command()
def demo(
    ctx: typer.Context,
    rows: Annotated[int, typer.Option(help="Rows in the demo table.", min=1)] = 100_000,
    compare_naive: Annotated[
        bool,
        typer.Option(
            "--compare-naive",
            help="First run the same change as plain ALTER TABLEs (an unreviewed Alembic "
            "revision) under the same traffic, and compare.",
        ),
    ] = False,
    report: Annotated[
        Path, typer.Option("--report", help="Folder for report.md and timeline.png.")
    ] = Path("zdmigrate-demo-report"),
    window: Annotated[
        float, typer.Option("--window", help="The gate's observation window, in seconds.", min=0.5)
    ] = 3.0,
    rate: Annotated[
        float, typer.Option("--rate", help="Requests per second of each app version.", min=1)
    ] = 100.0,
    fmt: Format = render.OutputFormat.text,
) -> None:
    """A live migration under traffic, on an embedded server (or --database-url's server).

    An old app sends requests from the start; apply renames a column, widens another to
    bigint, adds a NOT NULL column filled from the rows and builds an index; a new app
    runs beside the old one; complete is refused while the old app runs (the gate names
    its queries); the old app stops; the gate clears after its window; complete. The
    demo's databases are dropped and an embedded server's folder removed at the end.
    Exit code 0 only when zdmigrate's run had no failed request and every row verified.

    Example: zdmigrate demo --compare-naive --rows 100000
    """
    from zdmigrate.cli.demo_view import DemoView, print_summary
    from zdmigrate.demo import Board, DemoOptions, run_demo
    from zdmigrate.demo.report import write_report
    from zdmigrate.embedded import private_server

    state: CliState = ctx.obj
    options = DemoOptions(rows=rows, rate=rate, window_s=window, compare_naive=compare_naive)

    def go() -> Any:
        board = Board()
        try:
            with contextlib.ExitStack() as stack:
                if not state.database_url:
                    err_console.print(
                        "starting an embedded PostgreSQL server of the demo's own "
                        "(removed at the end)",
                        highlight=False,
                    )
                server = state.database_url or stack.enter_context(
                    private_server(preload=("pg_stat_statements",))
                )
                # the demo's server is its own: --embedded's shared server is not started
                settings = dataclasses.replace(state, embedded=False).settings()
                view = stack.enter_context(DemoView(err_console, board))
                return run_demo(server, settings, options, board, view.echo, view.progress)
        except KeyboardInterrupt:  # the apps, the databases and the server are gone by now
            err_console.print("demo interrupted; what it created is removed", highlight=False)
            raise typer.Exit(130) from None

    result = run_command(ctx, go)
    files = write_report(result, report)
    if fmt is render.OutputFormat.json:
        emit_json(
            {
                **result.to_json(),
                "report": str(files.markdown),
                "picture": str(files.picture) if files.picture else None,
            }
        )
    else:
        print_summary(result, files, out_console)
    if not result.ok:
        raise typer.Exit(1)


def main() -> None:
    app()
