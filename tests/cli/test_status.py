"""``status`` fits the terminal; ``status --watch`` follows a backfill until it ends."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console

from tests.cli_helpers import zdm
from zdmigrate.cli.render import status_view

Conn = psycopg.Connection[Any]
LONG = "0004_orders_amount_becomes_bigint_for_big_clients"
VSCHEMA = f"public_{LONG}"
# the last refresh of status --watch says why it ends
STOPPED = "no zdmigrate process at work on a migration: watching stops"


def _cli(url: str, *args: str, columns: int = 200, **kw: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": str(columns), "ZDMIGRATE_DATABASE_URL": url}
    env.pop("DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "zdmigrate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


def _run(url: str, *args: str, columns: int = 200) -> tuple[int, str, str]:
    proc = _cli(url, *args, columns=columns)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def _lines_with_names(text: str, names: list[str]) -> None:
    """Each name is whole on some line: no line break falls inside it."""
    for name in names:
        assert any(name in line for line in text.splitlines()), (name, text)


def test_status_fits_60_columns_without_breaking_a_name(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE orders (id int PRIMARY KEY, amount int)")
    db.execute("INSERT INTO orders SELECT g, g FROM generate_series(1, 100) g")
    path = tmp_path / f"{LONG}.yaml"
    path.write_text("- alter_column: {table: orders, column: amount, type: bigint}\n")
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0
    code, out, err = _run(db_url, "status", columns=60)
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 60, out
    _lines_with_names(out, [LONG, VSCHEMA + ",", "orders"])
    assert f"{LONG}: expanded" in out
    wide = _run(db_url, "status", columns=200)[1]
    assert any(LONG in line and f"{VSCHEMA},public" in line for line in wide.splitlines()), wide


def test_status_view_at_any_width_keeps_names_whole() -> None:
    row = {
        "name": LONG,
        "phase": "backfilling",
        "running": True,
        "tables": ["orders", "order_lines"],
        "rows_done": 120_000,
        "rows_total": 200_000,
        "rows_per_s": 35_000.0,
        "eta_s": 2.3,
        "throttle": "app slowed 12% (budget 20%): resting 0.4x each batch",
        "gate": None,
        "search_path": f"{VSCHEMA},public",
    }
    for width in (40, 60, 80, 120, 250):
        console = Console(width=width, file=io.StringIO(), record=True)
        console.print(status_view([row], width), soft_wrap=True)
        text = console.export_text()
        assert max(len(line) for line in text.splitlines()) <= max(width, len(VSCHEMA) + 5)
        _lines_with_names(text, [LONG, VSCHEMA, "order_lines", "120,000/200,000"])
        assert "about 2 s left" in " ".join(text.split())


def test_a_stopped_command_says_how_to_resume(db_url: str, db: Conn, tmp_path: Path) -> None:
    db.execute("CREATE TABLE orders (id int PRIMARY KEY, amount int)")
    path = tmp_path / "0001_o.yaml"
    path.write_text("- alter_column: {table: orders, column: amount, type: bigint}\n")
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0
    db.execute("UPDATE zdmigrate.migrations SET phase = 'backfilling'")  # as after a kill
    res = zdm("--database-url", db_url, "status", "--format", "json")
    assert json.loads(res.stdout)[0]["running"] is False
    text = zdm("--database-url", db_url, "status").stdout
    assert "(stopped:" in text and "'zdmigrate apply'" in text, text


def _rest_of(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """What a process still writes, once some of its stdout was read through its file
    (``communicate`` would read past what that file has buffered)."""
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    proc.wait(timeout=120)
    return out, proc.stderr.read()


def _phase(db: Conn, name: str) -> str | None:
    row = db.execute("SELECT phase FROM zdmigrate.migrations WHERE name = %s", (name,)).fetchone()
    return row[0] if row else None


def _wait(what: Any, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_watch_follows_a_backfill_and_ends_with_it(db_url: str, db: Conn, tmp_path: Path) -> None:
    db.execute("CREATE TABLE orders (id int PRIMARY KEY, amount int)")
    db.execute("INSERT INTO orders SELECT g, g FROM generate_series(1, 20000) g")
    db.execute("ANALYZE orders")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.zdmigrate]\nbatch_size = 100\nmax_batch_size = 100\nmin_batch_size = 100\n"
    )
    path = tmp_path / "0001_orders.yaml"
    path.write_text("- alter_column: {table: orders, column: amount, type: bigint}\n")
    config = str(tmp_path / "pyproject.toml")
    applying = _cli(db_url, "--config", config, "apply", str(path), cwd=tmp_path)
    try:
        _wait(
            lambda: (
                db.execute("SELECT to_regclass('zdmigrate.migrations')").fetchone() != (None,)
                and _phase(db, "0001_orders") == "backfilling"
            )
        )
        assert zdm("--database-url", db_url, "pause", "0001_orders").exit_code == 0
        watching = _cli(db_url, "status", "--watch", "--interval", "0.2", "--format", "json")
        assert watching.stdout is not None
        seen = [watching.stdout.readline() for _ in range(3)]  # refreshes while paused
        assert watching.poll() is None  # still watching: the backfill is in flight
        assert zdm("--database-url", db_url, "resume", "0001_orders").exit_code == 0
        out, err = _rest_of(watching)
        out = "".join(seen) + out
        assert watching.returncode == 0, err
        assert applying.wait(timeout=120) == 0
    finally:
        applying.kill()
    refreshes = [json.loads(line) for line in out.splitlines()]
    assert len(refreshes) >= 5
    first, last = refreshes[0], refreshes[-1]
    assert first["in_flight"] and not last["in_flight"]
    assert (first["migrations"][0]["phase"], first["migrations"][0]["paused"]) == (
        "backfilling",
        True,
    )
    assert first["migrations"][0]["running"] is True
    assert last["migrations"][0]["phase"] == "expanded"
    assert "replica_lag_s" in first
    done = [r["migrations"][0]["rows_done"] for r in refreshes]
    assert done == sorted(done) and done[-1] == 20000


def test_watch_without_a_terminal_prints_a_block_per_refresh(
    db_url: str, db: Conn, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE orders (id int PRIMARY KEY, amount int)")
    path = tmp_path / "0001_orders.yaml"
    path.write_text("- alter_column: {table: orders, column: amount, type: bigint}\n")
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0
    with psycopg.connect(db_url, autocommit=True) as holder:  # as a running 'complete'
        holder.execute("UPDATE zdmigrate.migrations SET phase = 'completing'")
        holder.execute(
            "SELECT pg_advisory_lock(hashtextextended('zdmigrate:' || %s, 0))", ("0001_orders",)
        )
        watching = _cli(db_url, "status", "--watch", "--interval", "0.2")
        assert watching.stdout is not None
        first = watching.stdout.readline()  # it has started watching
        time.sleep(0.7)
        holder.execute("UPDATE zdmigrate.migrations SET phase = 'completed'")
        holder.execute("SELECT pg_advisory_unlock_all()")
        out, err = _rest_of(watching)
        out = first + out
    assert watching.returncode == 0, err
    blocks = [b for b in out.split("\n\n") if b.strip()]
    assert len(blocks) >= 3, out
    assert "every 0.2 s, Ctrl-C stops" in blocks[0] and "completing" in blocks[0]
    assert STOPPED in blocks[-1] and "completed" in blocks[-1]
    assert all(STOPPED not in b for b in blocks[:-1])


def test_watch_on_a_terminal_draws_a_live_view(db_url: str, db: Conn, tmp_path: Path) -> None:
    """On a terminal the view is redrawn in place (rich Live); with no process at
    work it is drawn once and the command ends."""
    import pty

    db.execute("CREATE TABLE orders (id int PRIMARY KEY, amount int)")
    path = tmp_path / "0001_orders.yaml"
    path.write_text("- alter_column: {table: orders, column: amount, type: bigint}\n")
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0
    main, child = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "ZDMIGRATE_DATABASE_URL": db_url, "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zdmigrate", "status", "--watch"],
        stdout=child,
        stderr=child,
        env=env,
    )
    os.close(child)
    assert proc.wait(timeout=60) == 0
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the terminal closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    out = b"".join(chunks).decode(errors="replace")
    assert "\x1b[?25l" in out  # a live display hides the cursor while it draws
    assert STOPPED in out and "0001_orders" in out and "expanded" in out


def test_ctrl_c_ends_the_watch_quietly(db_url: str, db: Conn, tmp_path: Path) -> None:
    import signal

    db.execute("CREATE TABLE orders (id int PRIMARY KEY, amount int)")
    path = tmp_path / "0001_orders.yaml"
    path.write_text("- alter_column: {table: orders, column: amount, type: bigint}\n")
    assert zdm("--database-url", db_url, "apply", str(path)).exit_code == 0
    with psycopg.connect(db_url, autocommit=True) as holder:  # as a running 'rollback'
        holder.execute("UPDATE zdmigrate.migrations SET phase = 'rolling_back'")
        holder.execute(
            "SELECT pg_advisory_lock(hashtextextended('zdmigrate:' || %s, 0))", ("0001_orders",)
        )
        watching = _cli(db_url, "status", "--watch", "--interval", "0.2")
        assert watching.stdout is not None
        first = watching.stdout.readline()
        watching.send_signal(signal.SIGINT)
        out, err = _rest_of(watching)
    assert watching.returncode == 0, err
    assert err == ""
    assert "rolling_back" in first + out


def test_the_watch_header_says_when_replicas_hold_the_backfill() -> None:
    from zdmigrate.cli.render import watch_view
    from zdmigrate.commands import StatusReport

    def header(lag: float | None) -> str:
        console = Console(width=200, file=io.StringIO(), record=True)
        report = StatusReport([], lag, "2026-12-07T00:05:00+00:00", 10.0)
        console.print(watch_view(report, 200, 2))
        return console.export_text().splitlines()[0]

    assert header(12.3).endswith("replica lag 12.3 s > 10 s: backfills wait for the replicas")
    assert header(0.4).endswith("replica lag 0.4 s")
    assert header(None).endswith("no replica lag seen")


def test_a_backfill_past_the_estimated_total_never_shows_more_done_than_total() -> None:
    """The total is the planner's estimate: rows written since count too, and a
    finished backfill reads n/n (100%), never 2,527/2,526."""
    row = {
        "name": "0001_x",
        "phase": "expanded",
        "running": False,
        "tables": ["events"],
        "rows_done": 2_527,
        "rows_total": 2_526,
        "rows_per_s": None,
        "eta_s": None,
        "throttle": "",
        "gate": None,
        "search_path": "public_0001_x,public",
    }
    console = Console(width=120, file=io.StringIO(), record=True)
    console.print(status_view([row], 120), soft_wrap=True)
    text = " ".join(console.export_text().split())
    assert "2,527/2,527 (100%)" in text and "2,526" not in text
