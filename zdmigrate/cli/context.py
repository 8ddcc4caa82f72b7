"""What the global options leave for every command, and the error boundary."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

from zdmigrate.errors import ZdmError
from zdmigrate.redact import redact

__all__ = ["CliState", "emit_json", "err_console", "out_console", "run_command"]

if TYPE_CHECKING:
    from zdmigrate.config import Settings

T = TypeVar("T")

out_console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@dataclass
class CliState:
    database_url: str | None = None
    embedded: bool = False
    config: Path | None = None
    show_traceback: bool = False
    schema: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self, **flags: Any) -> Settings:
        """Settings with this command's flags applied (None means 'not given')."""
        if self._settings is None:
            from zdmigrate.config import load_settings

            base = load_settings(
                self.config, database_url=self.database_url, schema_name=self.schema
            )
            if self.embedded and not self.database_url:
                from zdmigrate.embedded import embedded_url

                base = base.with_overrides(database_url=embedded_url())
            self._settings = base
        return self._settings.with_overrides(**flags)


def emit_json(data: Any) -> None:
    """Machine output: JSON on stdout, passwords redacted."""
    sys.stdout.write(redact(json.dumps(data, indent=2, default=str)) + "\n")


def run_command(ctx: typer.Context, fn: Callable[[], T]) -> T:
    """Call ``fn``; a ZdmError becomes one line on stderr and its exit code."""
    state: CliState = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
    try:
        return fn()
    except ZdmError as exc:
        if state.show_traceback:
            traceback.print_exc()
        err_console.print(
            f"error: {redact(exc.one_line())}", markup=False, highlight=False, soft_wrap=True
        )
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("interrupted; run the same command again to resume", markup=False)
        raise typer.Exit(130) from None
