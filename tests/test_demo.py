"""`zdmigrate demo` on the test server: a migration under traffic, the gate blocked
while the old app runs and clear after, then completed."""

from __future__ import annotations

import psycopg

from tests.cli_helpers import zdm
from tests.pgserver import Server


def test_the_demo_shows_the_gate_blocked_then_clear(pg_server: Server) -> None:
    try:
        res = zdm("--database-url", pg_server.admin_url, "demo", "--rows", "3000")
        assert res.exit_code == 0, res.stdout + res.stderr
        lines = res.stdout.splitlines()
        blocked = next(x for x in lines if x.startswith("gate while the old app ran:"))
        assert "cannot complete '0002_demo_balance_bigint'" in blocked
        assert "writes:" in blocked and "demo-old-app" in blocked
        assert next(x for x in lines if x.startswith("gate after it stopped:")).endswith(
            "gate clear"
        )
        assert "every row consistent" in res.stdout
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS zdmigrate_demo WITH (FORCE)")
