"""``zdmigrate demo``: a live migration under traffic.

An "old app" sends requests to a table from the start; zdmigrate applies one
migration (a rename, ``integer`` to ``bigint``, a new ``NOT NULL`` column
filled from the existing rows, an index); a "new app" starts beside the old
one through its version schema; ``complete`` is refused while the old app
runs, with the old app's queries as evidence; the old app stops; the gate
clears after its window; ``complete`` contracts. Every request is timed and
counted per version. ``compare_naive`` first runs the same change as plain
``ALTER TABLE``s under the same traffic.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from zdmigrate.commands import Progress
from zdmigrate.config import Settings
from zdmigrate.demo.board import Board, LiveStatus, LiveVersion, RunResult
from zdmigrate.demo.runs import DemoOptions, run_naive
from zdmigrate.demo.scenario import CHANGE, CHANGE_NAME, described_changes
from zdmigrate.demo.story import run_zdmigrate
from zdmigrate.errors import ConfigError

__all__ = [
    "CHANGE",
    "CHANGE_NAME",
    "Board",
    "DemoOptions",
    "DemoResult",
    "LiveStatus",
    "LiveVersion",
    "RunResult",
    "described_changes",
    "run_demo",
]


@dataclass
class DemoResult:
    options: DemoOptions
    runs: list[RunResult] = field(default_factory=list)

    @property
    def zdmigrate(self) -> RunResult | None:
        return next((r for r in self.runs if r.label == "zdmigrate"), None)

    @property
    def naive(self) -> RunResult | None:
        return next((r for r in self.runs if r.label != "zdmigrate"), None)

    @property
    def ok(self) -> bool:
        """zdmigrate's run: no failed request, every row verified, every write kept, the
        gate blocked while the old app ran and clear after, completed."""
        run = self.zdmigrate
        return (
            run is not None
            and run.failed == 0
            and run.mismatched_rows == 0
            and run.rows_verified > 0
            and run.checks_passed
            and bool(run.gate_blocked)
            and run.gate_clear == "clear"
            and run.completed
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "migration": CHANGE_NAME,
            "rows": self.options.rows,
            "requests_per_s": self.options.rate,
            "gate_window_s": self.options.window_s,
            "runs": [r.to_json() for r in self.runs],
        }


@contextmanager
def _scratch_database(server_url: str, name: str) -> Iterator[str]:
    """A new database on the server for one run, dropped afterwards."""
    try:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise ConfigError(
            f"demo: cannot create the database {name}: {exc.diag.message_primary or exc}",
            "give --database-url a role that may CREATE DATABASE, or leave it out for an "
            "embedded server",
        ) from None
    try:
        yield psycopg.conninfo.make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}" + force).format(sql.Identifier(name)))


def run_demo(
    server_url: str,
    settings: Settings,
    options: DemoOptions,
    board: Board,
    echo: Callable[[str], None],
    progress: Callable[[Progress], None],
) -> DemoResult:
    """Both runs (the naive one first, when asked) on databases of their own on the
    server at ``server_url``, which are dropped afterwards."""
    result = DemoResult(options)
    tag = os.getpid()
    if options.compare_naive:
        with _scratch_database(server_url, f"zdmigrate_demo_naive_{tag}") as url:
            result.runs.append(run_naive(url, options, board, echo))
    with _scratch_database(server_url, f"zdmigrate_demo_{tag}") as url:
        ours = settings.with_overrides(database_url=url)
        result.runs.append(run_zdmigrate(ours, options, board, echo, progress))
    return result
