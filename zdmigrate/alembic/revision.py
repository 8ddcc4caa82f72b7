"""zdmigrate from Alembic revisions: ``apply`` in an expand revision, ``complete`` in a
later one (``rollback`` in the expand revision's ``downgrade()``).

Each runs outside the revision's transaction. Alembic on PostgreSQL runs a
revision (or, by default, the whole upgrade) in one transaction; zdmigrate needs
its own connections and transactions (each backfill batch commits with its
checkpoint, steps retry on short lock timeouts, indexes are built concurrently,
the gate watches the server on a connection of its own). So the helper first
leaves the revision's transaction through Alembic's ``autocommit_block()``,
which commits what the upgrade did so far (the table a previous revision
created is then visible to zdmigrate, and no lock of the upgrade is held while
zdmigrate waits for locks), then runs zdmigrate on connections opened from the
bind's URL, and Alembic begins a new transaction afterwards for the rest of the
revision and its ``alembic_version`` row. If zdmigrate fails, the revision fails
and ``alembic_version`` is not moved: running the upgrade again resumes
(``apply`` resumes where it stopped; a migration already expanded or completed
is reported and left as it is).

While zdmigrate runs, the upgrade's own connection is named ``zdmigrate-alembic``
(its ``application_name`` is restored afterwards), so the gate does not take it
for a session of the old application.

In offline mode (``alembic upgrade --sql``) nothing connects: ``apply`` writes
the plan's psql script up to contract, ``complete`` its contract, so that the
two together are exactly what ``zdmigrate plan FILE --format sql`` prints
(planned as it plans without a database: against the earlier migration files
beside FILE, or ``schema_file``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic.util import CommandError

from zdmigrate.alembic.render import LINTING
from zdmigrate.errors import ConfigError, GateRefused, ZdmError

if TYPE_CHECKING:
    from zdmigrate.commands import ApplyResult, PhaseResult
    from zdmigrate.config import Settings

__all__ = ["apply", "complete", "rollback"]

OWN_APPLICATION = "zdmigrate-alembic"
CONTRACT_HEADER = "-- == Contract"
# the file (and schema file) ``apply`` planned in this process, by migration name: for
# ``complete`` in --sql mode, which is given a name
_FILES: dict[str, tuple[str, str | None]] = {}


def _context(op: Any) -> Any:
    return op.get_context()


def _url(ctx: Any) -> str:
    """A libpq URL for the database the revision runs on, password included."""
    url = ctx.connection.engine.url
    rendered: str = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return rendered


def _settings(ctx: Any, database_url: str | None, flags: dict[str, Any]) -> Settings:
    from zdmigrate.config import load_settings

    url = database_url or (None if ctx.as_sql else _url(ctx))
    settings = load_settings(**flags)
    return settings.model_copy(update={"database_url": url})


@contextmanager
def _outside_transaction(ctx: Any) -> Iterator[None]:
    """Commit the revision's transaction, keep its connection out of one (and named as
    zdmigrate's) while zdmigrate works, and begin again afterwards."""
    if getattr(ctx, "_in_external_transaction", False):
        raise CommandError(
            "zdmigrate: env.py began the transaction itself, so the revision cannot leave it "
            "for zdmigrate (hint: let Alembic manage it: 'with context.begin_transaction(): "
            "context.run_migrations()', as the default env.py does)"
        )
    from sqlalchemy import text

    with ctx.autocommit_block():
        conn = ctx.connection
        name = text("SELECT set_config('application_name', :name, false)")
        before = conn.execute(text("SHOW application_name")).scalar()
        conn.execute(name, {"name": OWN_APPLICATION})
        try:
            yield
        finally:
            conn.execute(name, {"name": before})


@contextmanager
def _reported() -> Iterator[Any]:
    """Progress on stderr; a zdmigrate error fails the upgrade with its one line."""
    from rich.console import Console

    from zdmigrate.cli.render import ProgressView, gate_report

    console = Console(stderr=True, soft_wrap=True)
    try:
        with ProgressView(console) as view:
            yield view
    except GateRefused as exc:
        if exc.report is not None:
            gate_report(exc.report, console)
        raise CommandError(f"zdmigrate: {exc.one_line()}") from exc
    except ZdmError as exc:
        raise CommandError(f"zdmigrate: {exc.one_line()}") from exc


def _plan_sql(settings: Settings, path: str, schema_file: str | None) -> tuple[str, str]:
    """The plan's psql script, as ``zdmigrate plan --format sql``: before contract, and
    contract."""
    from zdmigrate import commands
    from zdmigrate.cli.plan_render import plan_sql

    script = plan_sql(commands.plan(settings, path, schema_file))
    at = script.find("\n" + CONTRACT_HEADER)
    if at < 0:
        return script, ""
    return script[: at + 1], script[at + 1 :]


def _linted(ctx: Any, call: str) -> bool:
    """Rendered for ``zdmigrate lint``: write a note instead of the plan (the plan is
    the safe form of the migration file, which lint checks as such)."""
    if not ctx.opts.get(LINTING):
        return False
    ctx.impl.static_output(f"-- {call}: the migration file is linted as such")
    return True


def _emit(ctx: Any, text: str) -> None:
    """Write ``text`` to Alembic's --sql output, outside the revision's transaction."""
    if not text:
        return
    with ctx.autocommit_block():
        ctx.impl.static_output(text.rstrip("\n"))


def _phase(settings: Settings, name: str) -> str | None:
    from zdmigrate import commands

    return next((r["phase"] for r in commands.status(settings) if r["name"] == name), None)


def apply(
    op: Any,
    path: str | Path,
    *,
    schema_file: str | None = None,
    database_url: str | None = None,
    **settings: Any,
) -> ApplyResult | None:
    """Expand and backfill the migration file ``path`` (relative to the directory
    ``alembic`` runs in), as ``zdmigrate apply`` does. ``settings`` override the
    project's (``schema_name``, ``batch_size``, ``lock_timeout_ms``, ``verify``, ...);
    ``database_url`` replaces the bind's URL (e.g. when env.py passes the password
    in ``connect_args``). A migration already completed is reported and left alone (a
    deploy may run the revisions again). Offline (``--sql``): writes the plan up to
    contract."""
    ctx = _context(op)
    if _linted(ctx, f"zdmigrate apply {path}"):
        return None
    config = _settings(ctx, database_url, settings)
    _FILES[Path(path).stem] = (str(path), schema_file)
    with _reported() as view:
        if ctx.as_sql:
            _emit(ctx, _plan_sql(config, str(path), schema_file)[0])
            return None
        from zdmigrate import commands

        with _outside_transaction(ctx):
            if _phase(config, Path(path).stem) == "completed":
                view.echo(f"{Path(path).stem}: already completed")
                return None
            result = commands.apply(config, str(path), view.echo, view.progress)
        view.echo(f"{result.name}: expanded; old and new versions both work")
        if result.search_path:
            view.echo(f"new app: search_path {result.search_path} (docs/connecting.md)")
        return result


def _migration_file(
    name: str, file: str | None, folder: str, schema_file: str | None
) -> tuple[str, str | None]:
    """The file to plan for ``complete`` offline, and the schema file to plan against."""
    if file is not None:
        return file, schema_file
    if name in _FILES:
        path, given = _FILES[name]
        return path, schema_file or given
    for suffix in (".yaml", ".yml", ".json"):
        candidate = Path(folder) / f"{name}{suffix}"
        if candidate.is_file():
            return str(candidate), schema_file
    raise ConfigError(
        f"complete('{name}') in --sql mode: the migration file is not known",
        f"pass file='{folder}/{name}.yaml' (the file apply() was given)",
    )


def complete(
    op: Any,
    name: str,
    *,
    force: bool = False,
    window: str | float | None = None,
    rebaseline: bool = False,
    code: tuple[str, ...] = (),
    models: tuple[str, ...] = (),
    ignore_applications: tuple[str, ...] = (),
    ignore_roles: tuple[str, ...] = (),
    file: str | None = None,
    schema_file: str | None = None,
    database_url: str | None = None,
) -> PhaseResult | None:
    """The gate, then contract, as ``zdmigrate complete NAME`` (the same options as its
    flags). While the gate is blocked the upgrade fails with the gate's report and
    nothing changes. Offline (``--sql``): writes the contract part of the plan of
    ``file`` against ``schema_file`` (default: those ``apply`` was given in this run,
    else ``<migrations_dir>/NAME.yaml``)."""
    ctx = _context(op)
    if _linted(ctx, f"zdmigrate complete {name}"):
        return None
    config = _settings(ctx, database_url, {})
    with _reported() as view:
        if ctx.as_sql:
            path, against = _migration_file(name, file, config.migrations_dir, schema_file)
            _emit(ctx, _plan_sql(config, path, against)[1])
            return None
        from zdmigrate import commands
        from zdmigrate.config import duration_s

        seconds = config.gate.window if window is None else duration_s(window, "complete(window=)")
        options = commands.GateOptions(
            tuple(code),
            tuple(models),
            window_s=seconds,
            ignored=commands.Ignored(tuple(ignore_applications), tuple(ignore_roles)),
            rebaseline=rebaseline,
        )
        with _outside_transaction(ctx):
            if _phase(config, name) == "completed":
                view.echo(f"{name}: already completed")
                return None
            result = commands.complete(config, name, view.echo, force, options)
        view.echo(f"{name}: completed; only the new version works now")
        return result


def rollback(op: Any, name: str, *, force: bool = False, database_url: str | None = None) -> None:
    """Undo the expand of ``name`` (for the expand revision's ``downgrade()``), as
    ``zdmigrate rollback NAME``; new-version clients block it unless ``force``.
    Offline (``--sql``): writes the rollback steps as a comment naming the command."""
    ctx = _context(op)
    if _linted(ctx, f"zdmigrate rollback {name}"):
        return
    config = _settings(ctx, database_url, {})
    with _reported() as view:
        if ctx.as_sql:
            _emit(ctx, f"-- zdmigrate rollback {name}: runs the rollback steps stored at apply")
            return
        from zdmigrate import commands

        options = commands.GateOptions(force=force)
        with _outside_transaction(ctx):
            if _phase(config, name) in (None, "rolled_back"):
                view.echo(f"{name}: nothing to roll back")
                return
            commands.rollback(config, name, view.echo, options)
        view.echo(f"{name}: rolled back; the old version's schema is as before")
