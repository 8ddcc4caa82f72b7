"""What the dual-write trigger's parts cost the application, side by side in one run.

Usage: python bench/trigger.py [--dsn URL] [--rows 200000] [--rounds 5] [--seconds 4]

A scratch database, a table ``t`` (--rows rows), ``zdmigrate apply`` of a type
change of ``t.v`` (the trigger of bench/backfill.py). Then pgbench's single-row
UPDATEs by random key (4 clients, synchronous_commit on, as bench/backfill.py's
``trigger_overhead``), each variant for --seconds, all variants in turn in each
of --rounds rounds, so none gets a warmer table or a quieter minute:

- old app (the physical table): no trigger; the trigger as planned; the same
  trigger without the ``writes`` counter's nextval; the same trigger without the
  refusal of a new-shape write by a session off the version's search_path;
- new app (through the version schema): the trigger as planned, which decides
  the writer with ``current_schemas`` (what the session resolves); the same
  trigger deciding by the text of search_path, as zdmigrate did before.

Figures: ``trigger_overhead`` (planned / no trigger, the old app),
``counter_cost`` (how much of it the counter takes: without the counter minus
planned, in the same units; target <= 0.01), ``new_writer_detection``
(resolved / text detection, the new app; target >= 0.99), ``guard_cost`` (the
refusal of a new-shape write, in the same units as ``counter_cost``). Medians
of the rounds, and each round's figure.

On a shared machine those tps figures move by more than the effects measured
(commits wait for fsync), so each round also times one UPDATE of every row per
variant in one session (CPU only, no commit per row): the microseconds a part
of the trigger adds per write. ``counter_share`` is the counter's microseconds
over one single-row UPDATE transaction's (4 clients: 4 / tps without the
trigger): the largest drop in ``trigger_overhead`` it can cause; ``guard_share``
the same for the refusal.
The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).parent))
from backfill import log, make_table, scratch_db, single_row_tps  # type: ignore[import-not-found]

NAME = "0001_bench_trigger"
VSCHEMA = f"public_{NAME}"
FUNCTION = f"zdmigrate._zdm_{NAME}_t"
MIGRATION = "- alter_column: {table: t, column: v, type: bigint}\n"


def _variants(body: str) -> dict[str, str]:
    """The function bodies compared: as planned, without the counter, and deciding the
    writer by the text of search_path (the detection zdmigrate used before)."""
    no_counter = "\n".join(x for x in body.splitlines() if "nextval(" not in x)
    lines = body.splitlines()
    start = next(i for i, x in enumerate(lines) if "strpos(current_setting('search_path')" in x)
    end = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith("THEN"))
    text = (
        f"  IF strpos(current_setting('search_path'), '{VSCHEMA}') > 0\n"
        "    AND strpos(',' || replace(replace(current_setting('search_path'), ' ', ''), "
        f"'\"', '') || ',', ',{VSCHEMA},') > 0 THEN"
    )
    by_text = "\n".join([*lines[:start], text, *lines[end + 1 :]])
    guard = re.compile(r"\n *IF \(\(\(TG_OP = 'UPDATE'.*?END IF;", re.S)
    no_guard, found = guard.subn("", body, count=1)
    assert found == 1, "the trigger has no refusal of new-shape writes"
    return {"planned": body, "no_counter": no_counter, "by_text": by_text, "no_guard": no_guard}


def _bulk_us_per_row(url: str, rows: int, search_path: str | None) -> float:
    """One UPDATE of every row, after a VACUUM so each run starts from the same table."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM t")
        if search_path:
            conn.execute(sql.SQL("SET search_path = {}").format(sql.SQL(search_path)))
        started = time.perf_counter()
        conn.execute("UPDATE t SET v = v + 1")
        return (time.perf_counter() - started) * 1e6 / rows


def _set(url: str, body: str | None) -> None:
    """Install ``body`` as the trigger function, or disable the trigger (None)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if body is None:
            conn.execute("ALTER TABLE t DISABLE TRIGGER USER")
        else:
            conn.execute(body)
            conn.execute("ALTER TABLE t ENABLE TRIGGER USER")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    args = parser.parse_args()
    name = "zdm_bench_trigger"
    url = scratch_db(args.dsn, name)
    try:
        make_table(url, "t", args.rows)
        folder = Path(tempfile.mkdtemp(prefix="zdm-bench-trigger-"))
        (folder / f"{NAME}.yaml").write_text(MIGRATION)
        cmd = [sys.executable, "-m", "zdmigrate", "--database-url", url, "apply"]
        done = subprocess.run([*cmd, str(folder / f"{NAME}.yaml")], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE) t")
            row = conn.execute("SELECT pg_get_functiondef(%s::regproc)", (FUNCTION,)).fetchone()
        assert row is not None and "current_schemas" in row[0] and "nextval(" in row[0]
        bodies = _variants(row[0])
        new_path = f"{VSCHEMA},public"
        runs = {
            "old_none": (None, None),
            "old_planned": (bodies["planned"], None),
            "old_no_counter": (bodies["no_counter"], None),
            "old_no_guard": (bodies["no_guard"], None),
            "new_planned": (bodies["planned"], new_path),
            "new_by_text": (bodies["by_text"], new_path),
        }
        single_row_tps(url, args.rows, 3)  # warm-up, discarded
        tps: dict[str, list[float]] = {k: [] for k in runs}
        us: dict[str, list[float]] = {k: [] for k in runs}
        rounds: dict[str, list[float]] = {
            "overhead": [],
            "counter": [],
            "detection": [],
            "guard": [],
        }
        for n in range(args.rounds):
            for key, (body, path) in runs.items():
                _set(url, body)
                tps[key].append(single_row_tps(url, args.rows, args.seconds, search_path=path))
                us[key].append(_bulk_us_per_row(url, args.rows, path))
            r = {k: v[-1] for k, v in tps.items()}
            rounds["overhead"].append(r["old_planned"] / r["old_none"])
            rounds["counter"].append((r["old_no_counter"] - r["old_planned"]) / r["old_none"])
            rounds["detection"].append(r["new_planned"] / r["new_by_text"])
            rounds["guard"].append((r["old_no_guard"] - r["old_planned"]) / r["old_none"])
            log(
                f"round {n + 1}: "
                + ", ".join(f"{k} {v:,.0f} tps" for k, v in r.items())
                + f"; overhead {rounds['overhead'][-1]:.3f}, counter {rounds['counter'][-1]:+.3f}"
                + f", detection {rounds['detection'][-1]:.3f}"
                + f", guard {rounds['guard'][-1]:+.3f}"
            )
            log("  bulk, us per row: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in us.items()))
        _set(url, bodies["planned"])
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    med = statistics.median
    counter_us = [p - q for p, q in zip(us["old_planned"], us["old_no_counter"], strict=True)]
    detection_us = [p - q for p, q in zip(us["new_planned"], us["new_by_text"], strict=True)]
    guard_us = [p - q for p, q in zip(us["old_planned"], us["old_no_guard"], strict=True)]
    txn_us = 4 * 1e6 / med(tps["old_none"])
    figures = {
        "rows": args.rows,
        "rounds": args.rounds,
        "tps_median": {k: round(med(v)) for k, v in tps.items()},
        "trigger_overhead": round(med(rounds["overhead"]), 3),
        "trigger_overhead_rounds": [round(x, 3) for x in rounds["overhead"]],
        "counter_cost": round(med(rounds["counter"]), 3),
        "counter_cost_rounds": [round(x, 3) for x in rounds["counter"]],
        "new_writer_detection": round(med(rounds["detection"]), 3),
        "new_writer_detection_rounds": [round(x, 3) for x in rounds["detection"]],
        "bulk_us_per_row_median": {k: round(med(v), 3) for k, v in us.items()},
        "counter_us_per_write": round(med(counter_us), 3),
        "counter_us_per_write_rounds": [round(x, 3) for x in counter_us],
        "detection_us_per_new_write": round(med(detection_us), 3),
        "detection_us_per_new_write_rounds": [round(x, 3) for x in detection_us],
        "guard_cost": round(med(rounds["guard"]), 3),
        "guard_cost_rounds": [round(x, 3) for x in rounds["guard"]],
        "guard_us_per_write": round(med(guard_us), 3),
        "guard_us_per_write_rounds": [round(x, 3) for x in guard_us],
        "single_row_txn_us": round(txn_us, 1),
        "counter_share": round(med(counter_us) / txn_us, 4),
        "detection_share": round(med(detection_us) / txn_us, 4),
        "guard_share": round(med(guard_us) / txn_us, 4),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
