"""Planning offline from the earlier files agrees with planning against the database.

A column renamed by an earlier migration is renamed, for PostgreSQL, in the
foreign keys of other tables that reference it too; the offline model must
follow, or `zdmigrate plan` without a database accepts a change that `apply`
refuses.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import zdm

TABLES = """
operations:
  - create_table:
      table: parent
      columns:
        - {name: id, type: integer, primary_key: true}
        - {name: code, type: integer, nullable: false, unique: true}
  - create_table:
      table: child
      columns:
        - {name: id, type: integer, primary_key: true}
        - name: parent_code
          type: integer
          references: {table: parent, columns: [code]}
"""
RENAME = """
operations:
  - rename_column: {table: parent, from: code, to: pcode}
"""
WIDEN = """
operations:
  - alter_column: {table: parent, column: pcode, type: bigint, up: pcode::bigint, down: pcode::integer}
"""
NO_DB = {"ZDMIGRATE_DATABASE_URL": "", "DATABASE_URL": ""}
REFUSAL = (
    "column 'parent.pcode' is referenced by foreign key 'child_parent_code_fkey' of table 'child'"
)


def _files(folder: Path) -> Path:
    (folder / "0001_tables.yaml").write_text(TABLES)
    (folder / "0002_rename.yaml").write_text(RENAME)
    widen = folder / "0003_widen.yaml"
    widen.write_text(WIDEN)
    return widen


def test_a_renamed_referenced_column_is_refused_offline_as_online(
    migrator_url: str, tmp_path: Path
) -> None:
    widen = _files(tmp_path)
    offline = zdm("plan", str(widen), env=NO_DB)
    assert offline.exit_code == 2, offline.stdout
    assert REFUSAL in offline.stderr
    assert "Planned offline" not in offline.stdout

    for name in ("0001_tables", "0002_rename"):
        path = str(tmp_path / f"{name}.yaml")
        assert zdm("--database-url", migrator_url, "apply", path).exit_code == 0
        assert zdm("--database-url", migrator_url, "complete", name).exit_code == 0
    online = zdm("--database-url", migrator_url, "plan", str(widen))
    assert online.exit_code == 2, online.stdout
    assert REFUSAL in online.stderr
    assert online.stderr.strip().splitlines()[-1] == offline.stderr.strip().splitlines()[-1]
