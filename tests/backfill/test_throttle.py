"""The backfill gives way to the application: it slows down while other sessions work
and the probe says they suffer, runs at full speed when they stop, stops on a critical
load until resumed, and a crash while throttled resumes where it was.

As production runs: the migration role is not a superuser (with pg_read_all_stats, as
docs/connecting.md asks, so it sees the app's sessions) and the "application" is
another role. The assertions are on the pacing the throttle reports and on the rows,
never on how fast the machine is.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.backfill.test_backfill_db import WIDEN
from tests.cli_helpers import zdm
from zdmigrate.config import BackfillSettings, Settings
from zdmigrate.engine.throttle import (
    BASELINE_MEMORY_S,
    FIRST_BASELINE_S,
    FIRST_SETTLE_S,
    SECOND_BASELINE_AFTER_S,
    Throttle,
)

pytestmark = pytest.mark.slow

ROWS = 300_000


@dataclass
class Load:
    """Sessions of another role at work: each runs short statements back to back."""

    url: str
    sessions: int
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True, application_name="app") as conn:
            while not self.stop.is_set():
                conn.execute("SELECT pg_sleep(0.02)")

    def __enter__(self) -> Load:
        for _ in range(self.sessions):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()

    def end(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


@pytest.fixture
def roles(db_url: str, migrator_url: str) -> Iterator[tuple[str, str]]:
    """(migration role URL, app role URL), the table t owned by the migration role."""
    with psycopg.connect(db_url, autocommit=True) as admin:
        migrator = psycopg.conninfo.conninfo_to_dict(migrator_url)["user"]
        assert isinstance(migrator, str)
        admin.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(migrator)))
        app = f"{migrator}_app"
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(app)))
    with psycopg.connect(migrator_url, autocommit=True) as owner:
        owner.execute("CREATE TABLE t (id int PRIMARY KEY, v integer NOT NULL)")
        owner.execute(f"INSERT INTO t SELECT g, g FROM generate_series(1, {ROWS}) g")
        owner.execute("ANALYZE t")
    app_url = psycopg.conninfo.make_conninfo(migrator_url, user=app)
    yield migrator_url, app_url
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (app,)
        )
        time.sleep(0.2)
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(app)))  # its grants
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(app)))


def _project(tmp_path: Path, backfill: str, top: str = "") -> tuple[Path, Path]:
    config = tmp_path / "pyproject.toml"
    config.write_text(
        f"[tool.zdmigrate]\nbatch_size = 2000\ntarget_batch_ms = 20\n{top}"
        f"[tool.zdmigrate.backfill]\n{backfill}"
    )
    path = tmp_path / "0001_widen.yaml"
    path.write_text(WIDEN)
    return config, path


def _apply(url: str, config: Path, path: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "zdmigrate", "--config", str(config), "--database-url", url]
    return subprocess.Popen(
        [*cmd, "apply", "--no-verify", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _state(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('zdmigrate.backfill_checkpoints')").fetchone() == (
            None,
        ):
            return {}
        row = conn.execute(
            "SELECT b.rows_done, b.status, b.throttle, m.paused, m.paused_why "
            "FROM zdmigrate.backfill_checkpoints b JOIN zdmigrate.migrations m "
            "ON m.name = b.migration"
        ).fetchone()
    if row is None:
        return {}
    keys = ("rows_done", "status", "throttle", "paused", "paused_why")
    return dict(zip(keys, row, strict=True))


def _watch(url: str, until: Any, timeout: float = 60) -> list[dict[str, Any]]:
    """The checkpoint's states until ``until(state)`` holds."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        state = _state(url)
        if state and (not seen or state != seen[-1]):
            seen.append(state)
        if state and until(state):
            return seen
        assert time.monotonic() < deadline, seen[-5:]
        time.sleep(0.05)


def _filled(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM t WHERE _zdm_v = v::bigint * 2").fetchone()
    return int(row[0]) if row else 0


def _resumed_to_the_end(url: str, config: Path, path: Path) -> None:
    """Run apply again to its end: every row filled, and counted once (none redone or lost)."""
    proc = _apply(url, config, path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    state = _state(url)
    assert (state["rows_done"], state["status"]) == (ROWS, "done")
    assert _filled(url) == ROWS


def test_the_throttle_slows_down_while_the_app_works_and_recovers_after(
    roles: tuple[str, str], tmp_path: Path
) -> None:
    url, app_url = roles
    # small batches: after the app ends, the walk lasts the second or two the throttle
    # takes to see it gone (at full speed the rest of the table took about one)
    config, path = _project(tmp_path, 'priority = "low"\n', "max_batch_size = 500\n")
    with Load(app_url, 3) as load:
        proc = _apply(url, config, path)
        try:
            busy = _watch(url, lambda s: "pausing" in s["throttle"] and s["rows_done"] > 0)
            done_under_load = busy[-1]["rows_done"]
            load.end()
            after = _watch(url, lambda s: s["status"] == "done" or "full speed" in s["throttle"])
            _, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert done_under_load < ROWS  # it was still running while throttled
    assert "no other session at work: full speed" in after[-1]["throttle"] or (
        after[-1]["status"] == "done"
    )
    assert "no other session at work: full speed" in err  # the progress line said so
    assert _filled(url) == ROWS


def test_a_critical_load_stops_the_backfill_until_resume(
    roles: tuple[str, str], tmp_path: Path
) -> None:
    url, app_url = roles
    config, path = _project(tmp_path, "critical_active_sessions = 2\n")
    with Load(app_url, 3) as load:
        proc = _apply(url, config, path)
        try:
            _watch(url, lambda s: s["paused"])
            held = _state(url)["rows_done"]
            time.sleep(1.0)
            assert _state(url)["rows_done"] == held  # stopped, not slowed
            status = zdm("--database-url", url, "status", "--format", "json")
            (row,) = json.loads(status.stdout)
            assert row["paused"] is True
            # an average over a second of 3 app sessions (each idle for a moment between
            # its statements), and at moments this test's own polling session
            found = re.match(r"critical load: (\d) other sessions at work >= 2", row["paused_why"])
            assert found and 2 <= int(found[1]) <= 4, row["paused_why"]
            text = zdm("--database-url", url, "status").stdout
            # the table may break the reason between any two words
            assert "(paused:" in text and "critical" in text and "load:" in text
            load.end()
            time.sleep(0.5)
            assert _state(url)["rows_done"] == held  # a pause waits for resume, as pause does
            assert zdm("--database-url", url, "resume", "0001_widen").exit_code == 0
            _, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert "waiting: paused (critical load" in err
    assert _filled(url) == ROWS


def test_a_crash_while_throttled_resumes_where_it_stopped(
    roles: tuple[str, str], tmp_path: Path
) -> None:
    url, app_url = roles
    config, path = _project(tmp_path, 'priority = "low"\n')
    with Load(app_url, 3):
        proc = _apply(url, config, path)
        _watch(url, lambda s: "pausing" in s["throttle"] and s["rows_done"] > 10_000)
        proc.kill()  # SIGKILL while resting between batches or inside one
        proc.wait()
    before = _state(url)
    assert before["status"] == "running" and 0 < before["rows_done"] < ROWS
    _resumed_to_the_end(url, config, path)


def _paced(throttle: Throttle, latency_ms: float, baseline_ms: float, at_work: int) -> float:
    """The rest after a 100 ms batch, once a second has passed since the last decision,
    given what the probes measured (no session waits for a lock, no write rate known)."""
    now = time.monotonic()
    throttle.active.extend((now, at_work, 0, 0) for _ in range(5))
    throttle.samples.clear()
    throttle.samples.extend((now, latency_ms / 1000) for _ in range(10))
    throttle.baseline = baseline_ms / 1000
    throttle.decided_at = 0.0
    return throttle.pace(0.1).rest_s


def test_the_rest_grows_while_the_app_is_over_budget_and_eases_off_under_it() -> None:
    settings = Settings(backfill=BackfillSettings(max_app_slowdown=0.2))
    throttle = Throttle("", settings, [])
    # it starts resting three times each batch's time, before it knows the app
    assert _paced(throttle, 1.0, 1.0, at_work=4) == pytest.approx(0.3 * 0.7)
    starting = [_paced(throttle, 1.0, 1.0, at_work=4) for _ in range(20)]
    assert starting == sorted(starting, reverse=True) and starting[-1] == 0.0
    # it aims at half the budget (the app's own rate is noisy, and the trigger costs it
    # too): between a quarter and a half of it, it holds; above half, it rests
    assert _paced(throttle, 1.08, 1.0, at_work=4) == 0.0
    assert _paced(throttle, 1.15, 1.0, at_work=4) > 0
    rests = [_paced(throttle, 3.0, 1.0, at_work=4) for _ in range(6)]
    assert rests == sorted(rests) and rests[0] > 0  # it slows down step by step
    assert rests[-1] == pytest.approx(2.0)  # up to resting 20 batches' time
    assert _paced(throttle, 1.08, 1.0, at_work=4) == rests[-1]  # in the band: holds
    easing = [_paced(throttle, 1.0, 1.0, at_work=4) for _ in range(20)]
    assert easing == sorted(easing, reverse=True) and easing[-1] == 0.0
    throttle.ratio = 5.0
    throttle.active.clear()
    assert _paced(throttle, 3.0, 1.0, at_work=0) == 0.0  # nobody else at work
    high = Throttle("", Settings(backfill=BackfillSettings(priority="high")), [])
    assert _paced(high, 3.0, 1.0, at_work=4) == 0.0


def test_row_lock_waits_count_and_shorten_the_batches() -> None:
    """Probes as fast as the baseline, but half the app's sessions wait for row locks:
    the app is twice as slow, so the throttle rests, and cuts the batches' length."""
    throttle = Throttle("", Settings(), [])
    now = time.monotonic()
    throttle.active.extend((now, 4, 0, 2) for _ in range(5))
    throttle.samples.extend((now, 0.001) for _ in range(10))
    throttle.baseline = 0.001
    pace = throttle.pace(0.1)
    assert pace.rest_s > 0 and throttle.batch_scale < 1
    assert "2.00x its latency (1.0 ms, 50% waiting for row locks)" in pace.why


def test_a_baseline_slowed_by_the_backfill_does_not_replace_the_faster_one_before() -> None:
    """The rests every 30 s measure an app the backfill has slowed (checkpoints,
    autovacuum): the fastest latency and the highest write rate of the last minutes
    count, so the app at 1.5x its first latency is over budget, not at its baseline."""
    throttle = Throttle("", Settings(), [])

    def rest_measured(latency_ms: float, writes_per_s: float) -> None:
        now = time.monotonic()
        throttle.samples.extend((now, latency_ms / 1000) for _ in range(10))
        throttle.xids.extend(
            [(now - 1, 1000, throttle.own_xids), (now, 1000 + int(writes_per_s), throttle.own_xids)]
        )
        throttle.record_baseline(now - 1)
        throttle.samples.clear()
        throttle.xids.clear()

    rest_measured(1.0, 1000)  # before the first batch
    rest_measured(1.5, 600)  # 30 s into the backfill
    assert throttle.baseline == pytest.approx(0.001)
    assert throttle.base_rate == pytest.approx(1000, rel=0.01)
    now = time.monotonic()
    throttle.active.extend((now, 4, 0, 0) for _ in range(5))
    throttle.samples.extend((now, 0.0015) for _ in range(10))
    assert throttle.pace(0.1).rest_s > 0
    assert "1.50x its latency (1.0 ms" in throttle.pace(0.1).why
    # a baseline older than BASELINE_MEMORY_S is forgotten: the app's load may have changed
    at, latency, rate = throttle.baselines[0]
    throttle.baselines[0] = (at - BASELINE_MEMORY_S - 1, latency, rate)
    throttle.samples.clear()
    rest_measured(1.4, 700)
    assert throttle.baseline == pytest.approx(0.0014)
    assert throttle.base_rate == pytest.approx(700, rel=0.01)


def test_the_first_rest_is_longer_and_leaves_out_the_seconds_after_expand() -> None:
    """Right after expand (and zdmigrate's own start) the app runs slower for a second
    or two whatever the backfill does: the first baseline rests longer and leaves out
    more of its start, so the app is not compared with an app expand has just slowed."""
    throttle = Throttle("", Settings(), [])
    now = time.monotonic()
    # probes in the first second after expand were slow; they must not count
    throttle.samples.extend((now + 0.5, 0.005) for _ in range(10))
    t0 = time.monotonic()
    threading.Timer(
        FIRST_SETTLE_S + 0.3,
        lambda: throttle.samples.extend((time.monotonic(), 0.001) for _ in range(10)),
    ).start()
    throttle.measure_baseline()
    assert time.monotonic() - t0 >= FIRST_BASELINE_S
    assert throttle.baseline == pytest.approx(0.001)
    # the second rest comes sooner than the later ones, 10 s after the first
    throttle.active.extend((time.monotonic(), 4, 0, 0) for _ in range(5))
    throttle.baseline_at -= SECOND_BASELINE_AFTER_S + 1
    assert throttle.baseline_due()
    t0 = time.monotonic()
    throttle.measure_baseline()  # the later rests are short
    assert time.monotonic() - t0 < FIRST_BASELINE_S
    throttle.baseline_at -= SECOND_BASELINE_AFTER_S + 1
    assert not throttle.baseline_due()  # then every BASELINE_EVERY_S


def _sessions(throttle: Throttle, at_work: int | None, writes_per_s: float = 0.0) -> int:
    """How many of 4 sessions the throttle lets the walk use, with ``at_work`` other
    sessions counted over the last 2 s (None: not counted yet) and the app writing
    ``writes_per_s`` transactions a second."""
    throttle.active.clear()
    throttle.xids.clear()
    now = time.monotonic()
    if at_work is not None:
        throttle.active.extend((now - 2 + i / 10, at_work, 0, 0) for i in range(21))
        throttle.xids.extend(
            (now - 2 + i / 10, 1000 + int(writes_per_s * i / 10), 0) for i in range(21)
        )
    return throttle.sessions(4)


def test_the_walk_takes_more_sessions_only_while_nobody_else_works() -> None:
    normal = Throttle("", Settings(), [])
    assert _sessions(normal, 0) == 4
    assert _sessions(normal, 1) == 1  # the app is back: one session, paced
    assert _sessions(normal, None) == 1  # before the first count, the app may be there
    # a light app, at work in none of the counts, but writing 200 times a second
    assert _sessions(normal, 0, writes_per_s=200) == 1
    # one count in the last 3 s that saw the app is enough to keep to one
    normal.active.clear()
    normal.xids.clear()
    assert _sessions(normal, 0) == 4
    normal.active[5] = (normal.active[5][0], 1, 0, 0)
    assert normal.sessions(4) == 1
    low = Throttle("", Settings(backfill=BackfillSettings(priority="low")), [])
    assert _sessions(low, 0) == 1
    resting = Throttle("", Settings(sleep_ratio=0.5), [])
    assert _sessions(resting, 0) == 1  # a rest asked for: one session, resting
    high = Throttle("", Settings(backfill=BackfillSettings(priority="high")), [])
    assert _sessions(high, 3) == 4  # priority high: the server is the backfill's


def _backfill_sessions(watcher: psycopg.Connection[Any], db: str) -> int:
    row = watcher.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
        "'zdmigrate-backfill' AND datname = %s",
        (db,),
    ).fetchone()
    return int(row[0]) if row else 0


def _apply_watched(url: str, config: Path, path: Path) -> int:
    """Run apply to its end; the most backfill sessions seen at once. Watched from another
    database: a session at work in this one is the app's to the throttle, and would keep
    the backfill to one session."""
    db = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    assert isinstance(db, str)
    elsewhere = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(elsewhere, autocommit=True) as watcher:
        proc = _apply(url, config, path)
        seen = 0
        while proc.poll() is None:
            seen = max(seen, _backfill_sessions(watcher, db))
            time.sleep(0.01)
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    return seen


def test_an_idle_server_gets_the_backfill_on_two_sessions(
    roles: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = roles
    # small batches: the walk lasts long enough for the throttle to tell the server is idle
    config, path = _project(tmp_path, "", "max_batch_size = 1000\n")
    assert _apply_watched(url, config, path) == 2
    state = _state(url)
    # every row counted once, though two sessions filled them
    assert (state["rows_done"], state["status"]) == (ROWS, "done")
    assert "no other session at work: full speed, 2 sessions at once" in state["throttle"]
    assert _filled(url) == ROWS
    # at priority low, or with max_sessions = 1, it keeps to one session, idle or not
    for setting in ('priority = "low"\n', "max_sessions = 1\n"):
        assert zdm("--database-url", url, "rollback", "0001_widen").exit_code == 0
        config, path = _project(tmp_path, setting)
        assert _apply_watched(url, config, path) == 1, setting
        assert "sessions at once" not in _state(url)["throttle"]
        assert _filled(url) == ROWS


def test_a_row_locked_ahead_of_the_walk_holds_it_and_loses_nothing(
    roles: tuple[str, str], tmp_path: Path
) -> None:
    """Two sessions at once (priority high) meet a row an app transaction holds: the batch
    that meets it gives up after lock_timeout, and so do the batches after it, uncommitted;
    the walk retries from there and goes on once the app commits."""
    url, app_url = roles
    app_role = psycopg.conninfo.conninfo_to_dict(app_url)["user"]
    assert isinstance(app_role, str)
    with psycopg.connect(url, autocommit=True) as owner:
        owner.execute(sql.SQL("GRANT SELECT, UPDATE ON t TO {}").format(sql.Identifier(app_role)))
    config, path = _project(tmp_path, 'priority = "high"\n', "max_batch_size = 2000\n")
    key = ROWS // 2
    with psycopg.connect(app_url) as app:
        proc = _apply(url, config, path)
        while not _state(url):  # the walk has started, so expand is done: the app may write
            time.sleep(0.002)
        app.execute("UPDATE t SET v = v WHERE id = %s", (key,))
        held = _watch(url, lambda s: s["rows_done"] >= key * 0.9)[-1]["rows_done"]
        time.sleep(1.5)  # three lock timeouts
        waiting = _state(url)["rows_done"]
        app.commit()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert held < key and waiting < key + 2 * 2000  # it did not pass the row while held
    state = _state(url)
    # the app's write filled its row (the trigger): the backfill counted every other one once
    assert (state["rows_done"], state["status"]) == (ROWS - 1, "done")
    assert _filled(url) == ROWS


def test_a_crash_with_two_sessions_at_work_resumes_where_it_stopped(
    roles: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = roles
    config, path = _project(tmp_path, 'priority = "high"\n', "max_batch_size = 500\n")
    for fraction in (0.2, 0.6):
        proc = _apply(url, config, path)
        _watch(url, lambda s, f=fraction: s["rows_done"] > ROWS * f)
        proc.kill()  # SIGKILL, most likely with a batch of each session in flight
        proc.wait()
        before = _state(url)
        assert before["status"] == "running" and 0 < before["rows_done"] < ROWS
    _resumed_to_the_end(url, config, path)


def test_a_session_ahead_ended_by_an_admin_leaves_the_walk_on_its_own_session(
    roles: tuple[str, str], db_url: str, tmp_path: Path
) -> None:
    """A DBA ends the backfill's second session (the newer one) mid-walk: apply goes on,
    on its own session, and every row is filled and counted once."""
    url, _ = roles
    config, path = _project(tmp_path, 'priority = "high"\n', "max_batch_size = 500\n")
    db = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    newest = (
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'zdmigrate-backfill' "
        "AND datname = %s ORDER BY backend_start DESC LIMIT 1"
    )
    proc = _apply(url, config, path)
    try:
        _watch(url, lambda s: s["rows_done"] > ROWS * 0.2)
        with psycopg.connect(db_url, autocommit=True) as admin:
            wait_until = time.monotonic() + 10
            while True:
                rows = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND application_name = 'zdmigrate-backfill'",
                    (db,),
                ).fetchone()
                if rows and rows[0] == 2:
                    break
                assert time.monotonic() < wait_until, "no second session"
                time.sleep(0.01)
            row = admin.execute(newest, (db,)).fetchone()
            assert row is not None
            admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    state = _state(url)
    assert (state["rows_done"], state["status"]) == (ROWS, "done")
    assert _filled(url) == ROWS
