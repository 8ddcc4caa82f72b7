"""Partitioned tables end to end: one trigger and one view for the partitioned table,
a backfill and a contract that reach every partition, sizes summed over them.

As production runs: a migration role that owns the tables and is not a
superuser, tables in schema ``metrics``; range partitions with a default one,
list partitions, and a partition created after apply.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cli_helpers import Project, zdm

CHANGE = """
- alter_column: {table: events, column: n, type: bigint}
- rename_column: {table: events, from: kind, to: category}
"""
VSCHEMA = "metrics_0001_events"

RANGE = """
CREATE TABLE metrics.events (id bigint, at date NOT NULL, kind text, n int,
                             PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE metrics.events_2024 PARTITION OF metrics.events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE metrics.events_2025 PARTITION OF metrics.events
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE metrics.events_rest PARTITION OF metrics.events DEFAULT;
INSERT INTO metrics.events
    SELECT g, date '2024-01-01' + (g % 700), 'k' || (g % 5), g FROM generate_series(1, 3000) g;
INSERT INTO metrics.events VALUES (3001, '2031-05-01', 'k0', 3001);  -- the default partition
CREATE INDEX events_n_idx ON metrics.events (n);
ANALYZE metrics.events;
"""
LIST = """
CREATE TABLE metrics.events (id bigint, at date NOT NULL, kind text NOT NULL, n int,
                             PRIMARY KEY (id, kind)) PARTITION BY LIST (kind);
CREATE TABLE metrics.events_a PARTITION OF metrics.events FOR VALUES IN ('k0', 'k1');
CREATE TABLE metrics.events_b PARTITION OF metrics.events FOR VALUES IN ('k2', 'k3', 'k4');
INSERT INTO metrics.events
    SELECT g, date '2024-01-01', 'k' || (g % 5), g FROM generate_series(1, 3000) g;
CREATE INDEX events_n_idx ON metrics.events (n);
ANALYZE metrics.events;
"""


@dataclass
class Setup(Project):
    def __post_init__(self) -> None:
        (self.folder / "pyproject.toml").write_text('[tool.zdmigrate]\nschema = "metrics"\n')
        (self.folder / "0001_events.yaml").write_text(CHANGE)

    def connect(self, new: bool = False) -> psycopg.Connection[Any]:
        path = f"{VSCHEMA},metrics" if new else "metrics"
        app = "new-app version=0001_events" if new else "old-app"
        return psycopg.connect(
            self.url, autocommit=True, application_name=app, options=f"-c search_path={path}"
        )

    def sql(self, text: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(text.encode())
            return cur.fetchall() if cur.description else []


@pytest.fixture(params=["range", "list"])
def setup(request: pytest.FixtureRequest, migrator_url: str, tmp_path: Path) -> Setup:
    s = Setup(migrator_url, tmp_path)
    s.sql("CREATE SCHEMA metrics")
    s.sql(RANGE if request.param == "range" else LIST)
    return s


def test_a_partitioned_table_migrates_with_every_partition(setup: Setup) -> None:
    plan = json.loads(setup.ok("plan", str(setup.folder / "0001_events.yaml"), "-f", "json").stdout)
    # the sizes are the partitions' (the partitioned table itself holds no rows)
    assert plan["tables"]["events"]["rows"] in (3000, 3001)
    assert plan["tables"]["events"]["bytes"] > 0
    # the backfill's estimate, app idle to busy app (150,000 and 10,000 rows/s)
    assert plan["tables"]["events"]["backfill_s"] == [0.0, 0.3]
    setup.ok("apply", str(setup.folder / "0001_events.yaml"))
    # one view, for the partitioned table; one trigger, cloned to each partition
    views = setup.sql(
        f"SELECT table_name FROM information_schema.views WHERE table_schema = '{VSCHEMA}'"
    )
    assert views == [("events",)]
    # a partition created after apply gets the new columns and the trigger
    kind = setup.sql("SELECT pg_get_partkeydef('metrics.events'::regclass)")[0][0]
    if kind.startswith("RANGE"):
        setup.sql(
            "CREATE TABLE metrics.events_2026 PARTITION OF metrics.events "
            "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
        )
        late_at, late_kind = "2026-03-01", "k1"
    else:
        setup.sql("CREATE TABLE metrics.events_c PARTITION OF metrics.events FOR VALUES IN ('k9')")
        late_at, late_kind = "2024-01-01", "k9"
    with setup.connect() as old, setup.connect(new=True) as new:
        old.execute(
            "INSERT INTO events (id, at, kind, n) VALUES (9001, %s, %s, 11)", (late_at, late_kind)
        )
        new.execute(
            "INSERT INTO events (id, at, category, n) VALUES (9002, %s, %s, 50000)",
            (late_at, late_kind),
        )
        old.execute("UPDATE events SET n = 7 WHERE id = 10")
        new.execute("UPDATE events SET n = 8 WHERE id = 20")
        # a partition written by its own name is the physical table: the old version's
        partition = "events_2024" if kind.startswith("RANGE") else "events_a"
        old.execute(f"UPDATE {partition} SET n = 9 WHERE id = 30")
        assert new.execute("SELECT n FROM events WHERE id = 30").fetchone() == (9,)
        assert new.execute("SELECT category, n FROM events WHERE id = 9001").fetchone() == (
            late_kind,
            11,
        )
    verify = setup.zdm("verify", "0001_events")
    assert verify.exit_code == 0, verify.stdout
    setup.ok("complete", "0001_events")
    rows = dict(setup.sql("SELECT id, n FROM metrics.events WHERE id IN (10, 20, 30, 9001, 9002)"))
    assert rows == {10: 7, 20: 8, 30: 9, 9001: 11, 9002: 50000}
    types = setup.sql(
        "SELECT DISTINCT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace s ON s.oid = c.relnamespace "
        "WHERE s.nspname = 'metrics' AND c.relkind IN ('r', 'p') AND a.attnum > 0 "
        "AND NOT a.attisdropped AND a.attname IN ('n', 'category', 'kind') ORDER BY 1, 2"
    )
    assert {(col, typ) for _, col, typ in types} == {("category", "text"), ("n", "bigint")}
    # the index on n was rebuilt on the new column, partition by partition, and is valid
    assert setup.sql(
        "SELECT indisvalid, pg_get_indexdef(indexrelid) LIKE '%(n)' FROM pg_index "
        "WHERE indexrelid = 'metrics.events_n_idx'::regclass"
    ) == [(True, True)]
    assert not setup.sql(
        "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = 'metrics'::regnamespace AND NOT t.tgisinternal"
    )


def test_rollback_of_a_partitioned_table_leaves_every_partition_as_it_was(setup: Setup) -> None:
    before = setup.sql(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'metrics'::regnamespace "
        "AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 2"
    )
    setup.ok("apply", str(setup.folder / "0001_events.yaml"))
    setup.ok("rollback", "0001_events")
    after = setup.sql(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'metrics'::regnamespace "
        "AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 2"
    )
    assert after == before


def test_an_operation_on_a_partition_says_to_change_its_table(setup: Setup) -> None:
    partition = setup.sql(
        "SELECT relname FROM pg_class WHERE relispartition "
        "AND relnamespace = 'metrics'::regnamespace ORDER BY 1 LIMIT 1"
    )[0][0]
    path = setup.folder / "0002_part.yaml"
    path.write_text(f"- alter_column: {{table: {partition}, column: n, type: bigint}}\n")
    res = setup.zdm("plan", str(path))
    assert res.exit_code == 2
    assert f"table '{partition}' is a partition of 'events'" in res.stderr
    assert "change 'events'" in res.stderr


def _checkpoints(setup: Setup) -> dict[str, tuple[str, str]]:
    return {
        part: (walk, status)
        for part, walk, status in setup.sql(
            "SELECT part, walk, status FROM zdmigrate.backfill_checkpoints "
            "WHERE migration = '0001_events'"
        )
    }


def _leaves(setup: Setup) -> list[str]:
    return [
        f'"metrics"."{name}"'
        for (name,) in setup.sql(
            "SELECT c.relname FROM pg_partition_tree('metrics.events') p "
            "JOIN pg_class c ON c.oid = p.relid WHERE p.isleaf ORDER BY 1"
        )
    ]


def test_the_backfill_walks_each_partition_and_sends_what_the_plan_shows(
    setup: Setup, tmp_path: Path
) -> None:
    plan = json.loads(setup.ok("plan", str(setup.folder / "0001_events.yaml"), "-f", "json").stdout)
    (backfill,) = plan["phases"]["backfill"]
    assert (backfill["walk"], backfill["partitioned"]) == ("blocks", True)
    listed = {s["sql"] for s in backfill["statements"]}
    assert any('UPDATE ONLY "<partition>"' in s and "ctid >=" in s for s in listed)
    log = tmp_path / "sql.log"
    res = zdm(
        "--database-url",
        setup.url,
        "--config",
        str(setup.folder / "pyproject.toml"),
        "apply",
        str(setup.folder / "0001_events.yaml"),
        env={"ZDMIGRATE_SQL_LOG": str(log)},
    )
    assert res.exit_code == 0, res.stderr
    # a checkpoint of its own for each partition, the default one included
    assert _checkpoints(setup) == {leaf: ("blocks", "done") for leaf in _leaves(setup)}
    sent = [
        json.loads(line)["sql"]
        for line in log.read_text().splitlines()
        if json.loads(line)["application"] == "zdmigrate-backfill"
    ]
    for leaf in _leaves(setup):
        assert any(f"UPDATE ONLY {leaf} AS t" in s for s in sent), leaf
    named = set()
    for text in sent:
        for leaf in _leaves(setup):
            text = text.replace(leaf, '"<partition>"')
        named.add(text)
    assert named <= listed
    assert setup.sql("SELECT count(*) FROM metrics.events WHERE _zdm_n IS DISTINCT FROM n") == [
        (0,)
    ]


def test_a_partition_attached_after_the_backfill_blocks_the_gate_until_apply_fills_it(
    setup: Setup,
) -> None:
    setup.ok("apply", str(setup.folder / "0001_events.yaml"))
    kind = setup.sql("SELECT pg_get_partkeydef('metrics.events'::regclass)")[0][0]
    bounds = (
        "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
        if kind.startswith("RANGE")
        else "FOR VALUES IN ('k7')"
    )
    at, category = ("2026-02-01", "k1") if kind.startswith("RANGE") else ("2024-01-01", "k7")
    # rows loaded into a table of the same shape, then attached: the triggers never saw them
    setup.sql(
        "CREATE TABLE metrics.events_late (LIKE metrics.events INCLUDING DEFAULTS); "
        f"INSERT INTO metrics.events_late (id, at, kind, n) SELECT g, '{at}', '{category}', g "
        "FROM generate_series(50001, 50500) g; "
        f"ALTER TABLE metrics.events ATTACH PARTITION metrics.events_late {bounds}"
    )
    gate = setup.zdm("gate", "0001_events", "--window", "0", "--format", "json")
    assert gate.exit_code == 1
    backfill = next(s for s in json.loads(gate.stdout)["sources"] if s["source"] == "backfill")
    assert [e["summary"] for e in backfill["evidence"]] == [
        'backfill of events ("metrics"."events_late", attached after the backfill) not finished'
    ]
    refused = setup.zdm("complete", "0001_events")
    assert refused.exit_code == 1
    # what to do about it: not "deploy the new version", which would change nothing
    assert "run 'zdmigrate apply' on the migration's file again" in refused.stderr
    assert "deploy the new version" not in refused.stderr
    setup.ok("apply", str(setup.folder / "0001_events.yaml"))  # walks the new partition
    assert _checkpoints(setup)['"metrics"."events_late"'] == ("blocks", "done")
    assert setup.sql(
        "SELECT count(*) FROM metrics.events_late WHERE _zdm_n IS DISTINCT FROM n"
    ) == [(0,)]
    setup.ok("verify", "0001_events")
    setup.ok("complete", "0001_events")
    assert setup.sql("SELECT sum(n) FROM metrics.events WHERE id > 50000") == [
        (sum(range(50001, 50501)),)
    ]


def test_a_partition_detached_during_the_rollout_is_no_longer_the_tables(setup: Setup) -> None:
    setup.ok("apply", str(setup.folder / "0001_events.yaml"))
    leaf = _leaves(setup)[0]
    setup.sql(f"ALTER TABLE metrics.events DETACH PARTITION {leaf}")
    gate = setup.zdm("gate", "0001_events", "--window", "0", "--format", "json")
    backfill = next(s for s in json.loads(gate.stdout)["sources"] if s["source"] == "backfill")
    assert backfill["verdict"] == "clear", backfill


def test_partitions_detached_and_dropped_during_the_walk_are_left_alone(setup: Setup) -> None:
    leaves = _leaves(setup)
    first, last = leaves[0], leaves[-1]
    kind = setup.sql("SELECT pg_get_partkeydef('metrics.events'::regclass)")[0][0]
    at, category = ("date '2024-02-01'", "'k' || (g % 5)")
    if not kind.startswith("RANGE"):
        at = "date '2024-01-01'"
    setup.sql(
        f"INSERT INTO metrics.events SELECT g, {at}, {category}, g "
        "FROM generate_series(10001, 210000) g; ANALYZE metrics.events"
    )
    config = setup.folder / "pyproject.toml"
    config.write_text(
        '[tool.zdmigrate]\nschema = "metrics"\nbatch_size = 200\nmax_batch_size = 200\n'
    )
    cmd = [sys.executable, "-m", "zdmigrate", "--config", str(config), "--database-url"]
    proc = subprocess.Popen(
        [*cmd, setup.url, "apply", str(setup.folder / "0001_events.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not setup.sql(
            "SELECT 1 FROM pg_tables WHERE schemaname = 'zdmigrate' "
            "AND tablename = 'backfill_checkpoints'"
        ) or not setup.sql("SELECT 1 FROM zdmigrate.backfill_checkpoints WHERE rows_done > 0"):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
            time.sleep(0.02)
        setup.ok("pause", "0001_events")
        time.sleep(1.0)  # the batch under way commits
        walking = setup.sql("SELECT part FROM zdmigrate.backfill_checkpoints")
        assert walking == [(first,)]  # one partition at a time, in order
        setup.sql(f"ALTER TABLE metrics.events DETACH PARTITION {first}")
        setup.sql(f"DROP TABLE {last}")
        setup.ok("resume", "0001_events")
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    marks = _checkpoints(setup)
    assert marks[first] == ("blocks", "detached")
    assert last not in marks
    assert {p: m for p, m in marks.items() if p != first} == {
        leaf: ("blocks", "done") for leaf in _leaves(setup)
    }
    gate = setup.zdm("gate", "0001_events", "--window", "0", "--format", "json")
    backfill = next(s for s in json.loads(gate.stdout)["sources"] if s["source"] == "backfill")
    assert backfill["verdict"] == "clear", backfill
    assert setup.sql("SELECT count(*) FROM metrics.events WHERE _zdm_n IS DISTINCT FROM n") == [
        (0,)
    ]
