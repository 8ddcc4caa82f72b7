"""What `zdmigrate plan` shows is exactly what `apply` and `complete` send.

Every example migration is planned against the database, then applied and
completed with ZDMIGRATE_SQL_LOG capturing each statement zdmigrate sends. On
the main connection, leaving out zdmigrate's own bookkeeping (its state
schema, advisory locks, reading the catalog), the statements are the plan's,
in the plan's order. The backfill and verify sessions send only statements
the plan lists for them (their parameters aside).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import zdm
from zdmigrate.engine import introspect

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "migrations_examples").glob("*.*"))
STATE_TABLES = (
    "zdmigrate.migrations",
    "zdmigrate.migration_schemas",
    "zdmigrate.steps_done",
    "zdmigrate.audit_log",
    "zdmigrate.meta",
    "zdmigrate.backfill_checkpoints",
    "zdmigrate.gate_",
)
CATALOG_READS = {
    getattr(introspect, name).strip() for name in dir(introspect) if name.endswith("_SQL")
}


def _bookkeeping(text: str) -> bool:
    """zdmigrate's own state and catalog reads, which no plan lists."""
    return (
        any(t in text for t in STATE_TABLES)
        or "advisory" in text
        or text.strip() in CATALOG_READS
        or text.startswith("SELECT to_regnamespace(")  # is the version schema's name free?
        or 'CREATE SCHEMA IF NOT EXISTS "zdmigrate"' in text
    )


def _log(path: Path, application: str) -> list[str]:
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r["sql"] for r in records if r["application"] == application]


def _sent(step: dict[str, Any]) -> list[str]:
    cleanup = [step["cleanup"]["check"]] if step.get("cleanup") else []
    return [*step["before"], *cleanup, step["sql"], *step["after"]]


def _run(db_url: str, log: Path, *args: str) -> None:
    res = zdm("--database-url", db_url, *args, env={"ZDMIGRATE_SQL_LOG": str(log)})
    assert res.exit_code == 0, res.stderr


def test_apply_and_complete_send_exactly_the_plan(db_url: str, tmp_path: Path) -> None:
    for example in EXAMPLES:
        planned = zdm("--database-url", db_url, "plan", "--format", "json", str(example))
        assert planned.exit_code == 0, planned.stderr
        phases = json.loads(planned.stdout)["phases"]
        apply_log, complete_log = tmp_path / f"{example.stem}.apply", tmp_path / f"{example.stem}.c"
        _run(db_url, apply_log, "apply", str(example))
        _run(db_url, complete_log, "complete", example.stem)

        expected = [s["sql"] for s in phases["check"]]
        expected += [q for s in (*phases["expand"], *phases["validate"]) for q in _sent(s)]
        sent = [q for q in _log(apply_log, "zdmigrate") if not _bookkeeping(q)]
        assert expected and sent == expected, example.name
        contract = [q for s in phases["contract"] for q in _sent(s)]
        assert [q for q in _log(complete_log, "zdmigrate") if not _bookkeeping(q)] == contract

        listed = {st["sql"] for b in phases["backfill"] for st in b["statements"]}
        backfill = _log(apply_log, "zdmigrate-backfill")
        assert bool(backfill) == bool(phases["backfill"]), example.name
        assert set(backfill) <= listed, example.name
        checked = {st["sql"] for v in phases["verify"] for st in v["statements"]}
        assert set(_log(apply_log, "zdmigrate-verify")) <= checked, example.name
