"""The backfill beside pgbench's own TPC-B, as issue #13 first tried it.

``pgbench -i -s SCALE`` (2M accounts at scale 20), then pgbench's default
TPC-B-like script with 4 clients (every transaction updates one account, one
teller and one branch, reads the account and inserts into the history) while
``zdmigrate apply`` widens ``pgbench_accounts.abalance`` from integer to bigint,
with the default settings or another ``--priority``. The application's
transactions per second, mean and p99 latency before the apply (12 s) and
while the backfill ran (cut at its start and end from its checkpoint) come
from pgbench's per-transaction log.

Usage: python bench/tpcb.py [--dsn URL] [--scale 20] [--priority normal|low|high]
       [--rounds 1]

Rounds run in turn on a fresh database each. The last line printed is a JSON
object with every round's figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from backfill import pgbench, scratch_db  # bench/backfill.py, beside this script

MIGRATION = """operations:
  - alter_column: {table: pgbench_accounts, column: abalance, type: bigint}
"""
BEFORE_S = 14


def window(entries: list[tuple[float, float]], lo: float, hi: float) -> dict[str, float]:
    """Transactions per second, mean and p99 latency (ms) of those ending in [lo, hi)."""
    inside = sorted(lat for at, lat in entries if lo <= at < hi)
    if not inside or hi <= lo:
        return {"tps": 0.0, "mean_ms": 0.0, "p99_ms": 0.0}
    p99 = inside[min(len(inside) - 1, int(len(inside) * 0.99))]
    return {"tps": len(inside) / (hi - lo), "mean_ms": statistics.fmean(inside), "p99_ms": p99}


def one_round(dsn: str, scale: int, priority: str) -> dict[str, Any]:
    url = scratch_db(dsn, "zdm_bench_tpcb")
    subprocess.run([pgbench(), "-i", "-q", "-s", str(scale), url], check=True, capture_output=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    folder = Path(tempfile.mkdtemp(prefix="zdm_tpcb_"))
    migration = folder / "0001_abalance.yaml"
    migration.write_text(MIGRATION)
    config = folder / "pyproject.toml"
    config.write_text(f'[tool.zdmigrate.backfill]\npriority = "{priority}"\n')
    app = subprocess.Popen(
        [pgbench(), "-n", "-c", "4", "-j", "2", "-T", "3600", "-l", "--log-prefix",
         str(folder / "tx"), url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(BEFORE_S)
        applied_at = time.time()
        cmd = [sys.executable, "-m", "zdmigrate", "--config", str(config), "--database-url", url]
        done = subprocess.run(
            [*cmd, "apply", "--no-verify", str(migration)], capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"apply failed: {done.stderr.strip()}")
    finally:
        app.terminate()
        app.wait()
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT EXTRACT(epoch FROM started_at), EXTRACT(epoch FROM updated_at), rows_done "
            "FROM zdmigrate.backfill_checkpoints"
        ).fetchone()
    assert row is not None
    start, end, rows = float(row[0]), float(row[1]), int(row[2])
    entries = []
    for path in folder.glob("tx*"):
        for line in path.read_text().splitlines():
            f = line.split()
            if len(f) >= 6 and f[5].isdigit():  # the last line may be cut by terminate
                entries.append((int(f[4]) + int(f[5]) / 1e6, int(f[2]) / 1000))
    shutil.rmtree(folder, ignore_errors=True)
    before = window(entries, applied_at - 12, applied_at - 0.5)
    during = window(entries, start, end)
    return {
        "priority": priority,
        "tps_before": round(before["tps"]),
        "tps_during": round(during["tps"]),
        "tps_ratio": round(during["tps"] / before["tps"], 3),
        "mean_ms_before": round(before["mean_ms"], 2),
        "mean_ms_during": round(during["mean_ms"], 2),
        "p99_ms_before": round(before["p99_ms"], 2),
        "p99_ms_during": round(during["p99_ms"], 2),
        "p99_ratio": round(during["p99_ms"] / before["p99_ms"], 2),
        "backfill_s": round(end - start, 1),
        "backfill_rows_per_s": round(rows / max(end - start, 1e-6)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--priority", default="normal", choices=("low", "normal", "high"))
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    rounds = []
    for _ in range(args.rounds):
        got = one_round(args.dsn, args.scale, args.priority)
        print(
            f"  {got['priority']}: tps {got['tps_before']:,} -> {got['tps_during']:,} "
            f"({got['tps_ratio']}), p99 {got['p99_ms_before']} -> {got['p99_ms_during']} ms "
            f"({got['p99_ratio']}x), backfill {got['backfill_rows_per_s']:,} rows/s in "
            f"{got['backfill_s']} s",
            file=sys.stderr,
            flush=True,
        )
        rounds.append(got)
    print(json.dumps({"scale": args.scale, "rounds": rounds}))


if __name__ == "__main__":
    main()
