"""The contract gate's own cost: with thousands of distinct statements in
pg_stat_statements, how long does one gate run take, window excluded?

Usage: python bench/gate.py [--dsn URL] [--statements 4500] [--rounds 3]

Needs a server that loads pg_stat_statements. Works in a scratch database
(dropped at the end): 50 tables, each queried in --statements / 50 distinct
shapes by an "old app", one migration applied on one of the tables, then
`zdmigrate gate` with --window 0s timed --rounds times (each round runs the
old app's statements again, so every one of them grew in the window and is
parsed). The cost of the `writes` counter on the old app's writes is measured
by bench/trigger.py. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

TABLES = 50
MIGRATION = "- alter_column: {table: t0, column: c1, type: bigint}\n"


def _setup(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        # entries other databases left (a test run) would be evicted during the window
        conn.execute("SELECT pg_stat_statements_reset()")
        for t in range(TABLES):
            cols = ", ".join(f"c{i} integer" for i in range(1, 11))
            conn.execute(f"CREATE TABLE t{t} (id bigint PRIMARY KEY, {cols})")
            conn.execute(f"INSERT INTO t{t} (id, c1) SELECT g, 0 FROM generate_series(1, 10) g")


def _old_app(url: str, statements: int) -> int:
    """Run ``statements`` distinct statement shapes (columns x filters x tables)."""
    shapes = [
        (a, b, op) for a in range(1, 11) for b in range(1, 11) for op in ("=", "<", ">", "<>")
    ]
    per_table = max(statements // TABLES, 1)
    sent = 0
    with psycopg.connect(url, autocommit=True, application_name="old-app") as conn:
        for t in range(TABLES):
            for a, b, op in shapes[:per_table]:
                conn.execute(f"SELECT c{a} FROM t{t} WHERE c{b} {op} 1 LIMIT 1")
                sent += 1
    return sent


def _zdm(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "zdmigrate", "--database-url", url, *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--statements", type=int, default=4500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    name = "zdm_bench_gate"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(args.dsn, dbname=name)
    try:
        _setup(url)
        folder = Path(tempfile.mkdtemp(prefix="zdm-bench-gate-"))
        (folder / "0001_wide.yaml").write_text(MIGRATION)
        applied = _zdm(url, "apply", str(folder / "0001_wide.yaml"))
        assert applied.returncode == 0, applied.stderr
        timings, tracked = [], 0
        for _ in range(args.rounds):
            sent = _old_app(url, args.statements)
            started = time.monotonic()
            res = _zdm(url, "gate", "0001_wide", "--window", "0s", "--format", "json")
            timings.append(time.monotonic() - started)
            assert res.returncode in (0, 1), res.stderr
            with psycopg.connect(url) as conn:
                tracked = int(conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()[0])
            report = json.loads(res.stdout)
            statements = next(x for x in report["sources"] if x["source"] == "statements")
            print(
                f"  {sent:,} old-app statements, {tracked:,} in pg_stat_statements: "
                f"gate {timings[-1]:.2f} s, statements {statements['verdict']} "
                f"({len(statements['evidence'])} found) {statements['reason']}",
                file=sys.stderr,
            )
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    figures = {
        "statements_sent": sent,
        "pg_stat_statements_entries": tracked,
        "gate_s_rounds": [round(t, 2) for t in timings],
        "gate_s_median": round(statistics.median(timings), 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
