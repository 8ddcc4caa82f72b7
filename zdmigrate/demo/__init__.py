"""``zdmigrate demo``: a live migration under traffic on an embedded server.

It creates a table, fills it, then changes a column's type and renames
another while an "old app" and a "new app" keep writing, and proves at the
end that no write was lost and every row is consistent. Before it completes,
the contract gate is shown blocked while the old app still runs, then clear
once it has stopped.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from zdmigrate import commands
from zdmigrate.commands import Progress
from zdmigrate.config import Settings
from zdmigrate.spec import parse_migration

__all__ = ["DemoReport", "run_demo"]

CREATE = """
description: The demo's starting schema.
operations:
  - create_table:
      table: accounts
      columns:
        - {name: id, type: bigint, primary_key: true}
        - {name: email, type: text, nullable: false}
        - {name: balance, type: integer, nullable: false, default: "0"}
"""

CHANGE = """
description: Widen accounts.balance to bigint and rename email to email_address.
operations:
  - alter_column:
      table: accounts
      column: balance
      type: bigint
      up: balance::bigint
      down: LEAST(balance, 2147483647)::integer
  - rename_column: {table: accounts, from: email, to: email_address}
"""


@dataclass
class DemoReport:
    rows: int
    old_writes: int = 0
    new_writes: int = 0
    mismatched_rows: int = -1
    seconds_apply: float = 0.0
    rows_per_s: float = 0.0
    search_path: str = ""
    steps: list[str] = field(default_factory=list)
    gate_while_old_app_runs: str = ""
    gate_after_old_app_stopped: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Writer(threading.Thread):
    """An app version writing random rows until told to stop."""

    def __init__(self, url: str, search_path: str | None, name: str) -> None:
        super().__init__(daemon=True)
        self.url, self.search_path, self.name = url, search_path, name
        self.stop = threading.Event()
        self.writes = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True, application_name=self.name) as conn:
                if self.search_path:
                    conn.execute(sql.SQL("SET search_path = {}").format(sql.SQL(self.search_path)))
                while not self.stop.is_set():
                    key = random.randint(1, 1_000)
                    conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = %s", (key,))
                    self.writes += 1
                    time.sleep(0.002)
        except BaseException as exc:  # reported by the demo
            self.error = exc


def _stop(writer: _Writer) -> None:
    writer.stop.set()
    writer.join()
    if writer.error is not None:
        raise writer.error


def _fill(conn: psycopg.Connection[Any], rows: int) -> None:
    conn.execute(
        "INSERT INTO accounts (id, email, balance) "
        "SELECT g, 'user' || g || '@example.com', g %% 1000 FROM generate_series(1, %s) g",
        (rows,),
    )
    conn.execute("ANALYZE accounts")


def run_demo(
    settings: Settings,
    rows: int,
    echo: Callable[[str], None],
    progress: Callable[[Progress], None],
) -> DemoReport:
    report = DemoReport(rows=rows)
    # the demo's server does not load pg_stat_statements: the gate's other sources decide
    gate = settings.gate.model_copy(update={"allow_unavailable": ("statements",), "window": 0})
    settings = settings.with_overrides(gate=gate)
    url = settings.database_url
    assert url is not None
    first = parse_migration(CREATE, "0001_demo_accounts", "0001_demo_accounts.yaml")
    change = parse_migration(CHANGE, "0002_demo_balance_bigint", "0002_demo_balance_bigint.yaml")
    commands.apply(settings, first, echo, progress)
    commands.complete(settings, first.name, echo, force=False)
    with psycopg.connect(url, autocommit=True) as conn:
        echo(f"filling accounts with {rows:,} rows")
        _fill(conn, rows)
    old_app = _Writer(url, None, "demo-old-app")
    old_app.start()
    started = time.monotonic()
    result = commands.apply(settings, change, echo, progress)
    report.seconds_apply = time.monotonic() - started
    report.rows_per_s = rows / max(report.seconds_apply, 1e-6)
    report.search_path = result.search_path or ""
    # the new app says which version it is, so the gate knows its session
    new_app = _Writer(url, result.search_path, f"demo-new-app version={change.name}")
    new_app.start()
    time.sleep(2.0)
    watch = commands.GateOptions(window_s=1.0)
    blocked = commands.gate(settings, change.name, watch, echo)
    report.gate_while_old_app_runs = blocked.summary()
    echo(f"gate while the old app runs: {blocked.summary()}")
    _stop(old_app)
    # from now on: the old app is gone, and only what happens next counts
    clear = commands.gate(settings, change.name, replace(watch, rebaseline=True), echo)
    report.gate_after_old_app_stopped = clear.summary()
    echo(f"gate after the old app stopped: {clear.summary()}")
    _stop(new_app)
    report.old_writes, report.new_writes = old_app.writes, new_app.writes
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM accounts WHERE _zdm_balance IS DISTINCT FROM balance::bigint"
        ).fetchone()
        report.mismatched_rows = int(row[0]) if row else -1
    commands.complete(settings, change.name, echo, force=False)
    return report


def demo_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return psycopg.conninfo.make_conninfo(server_url, dbname=name)
