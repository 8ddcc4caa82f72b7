"""Each operation's effect on the schema model is what completing it does to the database.

Offline planning replays earlier files through these effects; a drift between
them and the server (a CHECK or UNIQUE of an added column left out, a column
that moved) makes an offline plan differ from the one `apply` runs. Every
example is applied and completed on a real server, one after another; after
each, the model of the files so far must describe the live schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cli_helpers import zdm
from zdmigrate.engine.introspect import introspect
from zdmigrate.model.schema import Catalog
from zdmigrate.plan import offline_schema
from zdmigrate.spec import load_migration

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "migrations_examples").glob("*.*"))


def _shape(cat: Catalog) -> dict[str, Any]:
    """What planning reads of a table (type spellings and expression text aside)."""
    return {
        name: {
            "columns": [(c.name, c.nullable, c.default is not None) for c in t.columns],
            "primary_key": t.primary_key,
            "unique_keys": sorted(t.unique_keys),
            "indexes": {k: v for k, v in sorted(t.indexes.items())},
            "constraints": dict(sorted(t.constraints.items())),
            "checks": sorted(t.checks),
            "foreign_keys": {
                k: (f.columns, f.ref_table, f.ref_columns) for k, f in t.foreign_keys.items()
            },
        }
        for name, t in sorted(cat.tables.items())
    }


def test_the_model_of_the_files_is_the_live_schema(db_url: str) -> None:
    done = []
    for example in EXAMPLES:
        assert zdm("--database-url", db_url, "apply", str(example)).exit_code == 0
        assert zdm("--database-url", db_url, "complete", example.stem).exit_code == 0
        done.append(load_migration(example))
        with psycopg.connect(db_url) as conn:
            live = introspect(conn, "public")
        assert _shape(offline_schema("public", done)) == _shape(live), example.name


def test_adding_a_column_with_check_and_unique_then_changing_its_type_plans_alike_offline(
    db_url: str, tmp_path: Path
) -> None:
    """The drift that made an offline plan of alter_column lack the copied CHECK and index."""
    first = tmp_path / "0001_t.yaml"
    first.write_text(
        "- create_table: {table: t, columns: [{name: id, type: bigint, primary_key: true}]}\n"
    )
    second = tmp_path / "0002_code.yaml"
    second.write_text(
        "- add_column: {table: t, column: {name: code, type: integer, "
        "check: 'code > 0', unique: true}}\n"
    )
    third = tmp_path / "0003_wide.yaml"
    third.write_text("- alter_column: {table: t, column: code, type: bigint}\n")
    for f in (first, second):
        assert zdm("--database-url", db_url, "apply", str(f)).exit_code == 0
        assert zdm("--database-url", db_url, "complete", f.stem).exit_code == 0
    offline = zdm("plan", "--format", "json", str(third), env={"ZDMIGRATE_DATABASE_URL": ""})
    live = zdm("--database-url", db_url, "plan", "--format", "json", str(third))
    assert offline.exit_code == 0 and live.exit_code == 0, offline.stderr + live.stderr

    def steps(out: str) -> list[tuple[str, str]]:
        import json

        phases = json.loads(out)["phases"]
        # the live plan also drops the version schemas of the completed migrations
        return [
            (s["key"], s["sql"])
            for p in ("expand", "contract")
            for s in phases[p]
            if not s["key"].startswith("contract:drop-version:")
        ]

    keys = [k for k, _ in steps(offline.stdout)]
    assert any("index:_zdm_i_t_code_key" in k for k in keys)
    assert "_zdm_c_t_code_check" in offline.stdout
    assert steps(offline.stdout) == steps(live.stdout)
