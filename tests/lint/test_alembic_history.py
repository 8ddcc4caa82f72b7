"""Alembic histories as real projects have them: long, branched, with broken or noisy
revisions, Flask-Migrate's layout. Every history is built here, in tmp_path."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from tests.lint.helpers import lint
from zdmigrate.alembic.history import in_revision_order, read_header

SAFE = "op.execute(\"SET lock_timeout = '1s'\")"


def revision(rev: str, down: str | tuple[str, ...] | None, *body: str, head: str = "") -> str:
    """The text of a revision script: ``head`` runs at import, ``body`` in upgrade()."""
    lines = "\n".join(f"    {b}" for b in body) or "    pass"
    return (
        f'"""Revision {rev}."""\n'
        "import sqlalchemy as sa\nfrom alembic import op\n"
        f"{head}\n"
        f"revision = {rev!r}\ndown_revision = {down!r}\n\n\n"
        f"def upgrade() -> None:\n{lines}\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )


def project(root: Path, scripts: dict[str, str], ini: str | None = None) -> Path:
    """``root`` with env.py, versions/ holding ``scripts`` and, if given, alembic.ini."""
    versions = root / "versions"
    versions.mkdir(parents=True)
    (root / "env.py").write_text("raise RuntimeError('env.py is never run by lint')\n")
    if ini is not None:
        (root / "alembic.ini").write_text(ini)
    for name, text in scripts.items():
        (versions / name).write_text(text)
    return root


def findings(res_stdout: str) -> list[tuple[str, int, str]]:
    data = json.loads(res_stdout)
    return [(Path(f["path"]).name, f["line"], f["rule"]) for f in data["findings"]]


def chain(n: int) -> dict[str, str]:
    """A linear history of ``n`` revisions whose file names do not sort in revision
    order: the first creates ``items``, the last widens its varchar (no rewrite, known only
    if the first is read before it)."""
    rng = random.Random(14)
    names = [f"{rng.getrandbits(48):012x}_step.py" for _ in range(n)]
    scripts = {}
    for i, name in enumerate(names):
        body: tuple[str, ...] = (SAFE,)
        if i == 0:
            body = (
                SAFE,
                'op.create_table("items", sa.Column("id", sa.BigInteger), '
                'sa.Column("name", sa.String(10)))',
            )
        elif i == n - 1:
            body = (SAFE, 'op.alter_column("items", "name", type_=sa.String(20))')
        scripts[name] = revision(f"r{i:05d}", f"r{i - 1:05d}" if i else None, *body)
    return scripts


# 1. long histories


def test_a_2000_revision_chain_lints_one_revision_and_the_whole_folder(tmp_path: Path) -> None:
    scripts = chain(2000)
    root = project(tmp_path / "proj", scripts)
    last = next(n for n, t in scripts.items() if "r01999" in t.split("down_revision")[0])
    one = lint(str(root / "versions" / last), "--format", "json")
    assert one.exit_code == 1  # the change alone: the old type is not known
    assert ("change-column-type" in one.stdout) and "not-linted" not in one.stdout
    whole = lint(str(root), "--format", "json")
    assert whole.exit_code == 0, whole.stdout[-2000:]
    assert json.loads(whole.stdout)["summary"]["files"] == 2000


def test_scripts_given_one_by_one_follow_a_long_chain(tmp_path: Path) -> None:
    scripts = chain(2000)
    root = project(tmp_path / "proj", scripts)
    first, last = (
        next(n for n, t in scripts.items() if f"revision = 'r{k:05d}'" in t) for k in (0, 1999)
    )
    res = lint(str(root / "versions" / last), str(root / "versions" / first))
    assert res.exit_code == 0, res.stdout
    assert "no problems (2 files" in res.stdout


def test_branches_and_merges_come_after_all_their_parents(tmp_path: Path) -> None:
    # base -> (left, right) -> merge -> tip, named so that file order is wrong
    graph = {
        "e_base.py": ("base", None),
        "d_left.py": ("left", "base"),
        "c_right.py": ("right", "base"),
        "b_merge.py": ("merge", ("left", "right")),
        "a_tip.py": ("tip", "merge"),
        "f_other_root.py": ("other", None),
    }
    for name, (rev, down) in graph.items():
        (tmp_path / name).write_text(revision(rev, down))
    order = [h.revision for h in in_revision_order(read_header(p) for p in tmp_path.iterdir())]
    for rev, down in graph.values():
        parents = (down,) if isinstance(down, str) else down or ()
        assert all(order.index(p) < order.index(rev) for p in parents), order
    assert sorted(order) == sorted(rev for rev, _ in graph.values())


def test_headers_in_every_usual_spelling_are_read_without_importing(tmp_path: Path) -> None:
    text = (
        "import no_such_module_at_all\n"
        'revision: str = "abc123"\n'
        "down_revision: Union[str, Sequence[str], None] = (\n"
        '    "p1",\n    "p2",\n)\n'
    )
    path = tmp_path / "abc123_x.py"
    path.write_text(text)
    header = read_header(path)
    assert (header.revision, header.down) == ("abc123", ("p1", "p2"))


# 2. one bad revision does not break the run


def _broken_project(root: Path) -> Path:
    return project(
        root,
        {
            "0001_base.py": revision("0001", None, SAFE, 'op.drop_column("users", "a")'),
            "0002_missing.py": revision("0002", "0001", head="import zdm_not_installed_anywhere"),
            "0003_syntax.py": revision("0003", "0002", "value = = 1"),
            "0004_tip.py": revision("0004", "0003", SAFE, 'op.drop_column("users", "b")'),
        },
    )


def test_a_revision_that_cannot_be_imported_is_reported_and_the_rest_linted(
    tmp_path: Path,
) -> None:
    root = _broken_project(tmp_path / "proj")
    res = lint(str(root), "--format", "json")
    assert res.exit_code == 1, res.stderr
    assert findings(res.stdout) == [
        ("0001_base.py", 11, "drop-column"),
        ("0002_missing.py", 4, "not-linted"),
        ("0003_syntax.py", 10, "not-linted"),
        ("0004_tip.py", 11, "drop-column"),
    ]
    messages = [f["message"] for f in json.loads(res.stdout)["findings"]]
    assert "No module named 'zdm_not_installed_anywhere'" in messages[1]
    assert "SyntaxError" in messages[2]
    assert json.loads(res.stdout)["summary"]["not_linted"] == 2


def test_bad_revisions_given_as_files_do_not_abort_the_others(tmp_path: Path) -> None:
    versions = _broken_project(tmp_path / "proj") / "versions"
    res = lint(*(str(p) for p in sorted(versions.iterdir())))
    assert res.exit_code == 1, res.stderr
    assert "error ZD002 not-linted: revision not linted: cannot import it" in res.stdout
    assert res.stdout.count("drop-column") == 2
    assert "(4 files, " in res.stdout and "2 not linted in full)" in res.stdout


def test_strict_exits_2_when_any_revision_is_not_linted(tmp_path: Path) -> None:
    root = _broken_project(tmp_path / "proj")
    res = lint(str(root), "--format", "json", "--strict")
    assert res.exit_code == 2
    assert len(json.loads(res.stdout)["findings"]) == 4  # the report still parses
    assert res.stderr.strip().splitlines() == [
        "error: 2 revisions not linted in full (--strict) "
        "(hint: the not-linted findings in the report say why)"
    ]


def test_nothing_linted_at_all_exits_2(tmp_path: Path) -> None:
    script = tmp_path / "0001_missing.py"
    script.write_text(revision("0001", None, head="import zdm_not_installed_anywhere"))
    res = lint(str(script))
    assert res.exit_code == 2
    assert "not-linted" in res.stdout
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error: nothing could be linted: the revision could be")


# 3. a revision's own output stays out of the report


def _noisy(root: Path) -> Path:
    return project(
        root,
        {
            "0001_noisy.py": revision(
                "0001",
                None,
                'print("upgrading...")',
                'sys.stderr.write("warning from the revision\\n")',
                'os.system("echo from a child process; echo to its stderr >&2")',
                SAFE,
                'op.drop_column("users", "a")',
                head='import os\nimport sys\nprint("imported 0001")',
            ),
            "0002_exits.py": revision("0002", "0001", SAFE, "raise SystemExit(3)"),
            "0003_exits_at_import.py": revision("0003", "0002", head="raise SystemExit(4)"),
        },
    )


def _zdmigrate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "from zdmigrate.cli.main import main; main()"  # as the console script runs
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_prints_of_revisions_do_not_corrupt_json_or_sarif(tmp_path: Path) -> None:
    root = _noisy(tmp_path / "proj")
    for fmt in ("json", "sarif"):
        res = _zdmigrate("lint", str(root), "--format", fmt, cwd=tmp_path)
        assert res.returncode == 1, res.stderr
        doc = json.loads(res.stdout)
        for printed in (
            "imported 0001",
            "upgrading",
            "warning from",
            "child process",
            "its stderr",
        ):
            assert printed not in res.stdout + res.stderr
        if fmt == "json":
            assert [f["rule"] for f in doc["findings"]] == ["drop-column", *["not-linted"] * 2]


def test_sys_exit_in_a_revision_does_not_decide_the_exit_code(tmp_path: Path) -> None:
    root = _noisy(tmp_path / "proj")
    res = _zdmigrate("lint", str(root), "--format", "json", cwd=tmp_path)
    assert res.returncode == 1
    messages = [f["message"] for f in json.loads(res.stdout)["findings"]]
    assert "not linted from line 11 on: upgrade() stopped rendering: it called sys.exit(3)" in (
        messages
    )
    assert "revision not linted: cannot import it: it called sys.exit(4)" in messages


# 5. Flask-Migrate's layout

FLASK_INI = """\
# A generic, single database configuration (as `flask db init` writes it).

[alembic]
# template used to generate migration files
# file_template = %%(rev)s_%%(slug)s

[loggers]
keys = root,sqlalchemy,alembic,flask_migrate

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""


def _flask(root: Path) -> Path:
    migrations = project(
        root / "migrations",
        {
            "1a2b3c4d5e6f_users.py": revision(
                "1a2b3c4d5e6f", None, 'op.create_table("users", sa.Column("id", sa.Integer))'
            ),
            "2b3c4d5e6f7a_drop.py": revision(
                "2b3c4d5e6f7a", "1a2b3c4d5e6f", SAFE, 'op.drop_column("accounts", "old")'
            ),
        },
        ini=FLASK_INI,
    )
    (migrations / "script.py.mako").write_text("${upgrades if upgrades else 'pass'}\n")
    return migrations


def test_flask_migrate_folder_is_linted(tmp_path: Path) -> None:
    migrations = _flask(tmp_path)
    res = lint(str(migrations), "--format", "json")
    assert res.exit_code == 1, res.stderr
    assert findings(res.stdout) == [("2b3c4d5e6f7a_drop.py", 11, "drop-column")]


def test_flask_migrate_single_revision_is_linted(tmp_path: Path) -> None:
    migrations = _flask(tmp_path)
    res = lint(str(migrations / "versions" / "2b3c4d5e6f7a_drop.py"))
    assert res.exit_code == 1
    assert "2b3c4d5e6f7a_drop.py:11:5: error ZD101 drop-column" in res.stdout


def test_alembic_ini_without_script_location_or_env_py_is_one_line_exit_2(
    tmp_path: Path,
) -> None:
    (tmp_path / "alembic.ini").write_text("[alembic]\n")
    res = lint(str(tmp_path))
    assert res.exit_code == 2
    (line,) = res.stderr.strip().splitlines()
    assert "no script_location, and no env.py and versions/ beside it" in line


# 4. patterns that used to stop rendering


def _lint_one(tmp_path: Path, *body: str) -> tuple[int, list[tuple[int, str]], str]:
    script = tmp_path / "0001_rev.py"
    script.write_text(revision("0001", None, *body, head="from sqlalchemy.orm import Session"))
    res = lint(str(script), "--format", "json")
    data = json.loads(res.stdout)
    return res.exit_code, [(f["line"], f["rule"]) for f in data["findings"]], res.stdout


def test_commit_on_the_bind_before_an_autocommit_block_renders_to_the_end(
    tmp_path: Path,
) -> None:
    code, found, _ = _lint_one(
        tmp_path,
        SAFE,
        'op.add_column("users", sa.Column("note", sa.Text()))',
        "op.get_bind().commit()",
        "op.execute(\"UPDATE users SET note = '' WHERE id < 100\")",
        "with op.get_context().autocommit_block():",
        '    op.execute("CREATE INDEX CONCURRENTLY users_note ON users (note)")',
        'op.drop_column("users", "legacy")',
    )
    # the commit released the lock of add_column: no lock-held-across-statements on the
    # UPDATE; the concurrent build is outside a transaction; the drop after it is seen
    assert (code, found) == (1, [(16, "drop-column")])


def test_an_orm_session_on_the_bind_renders_to_the_end(tmp_path: Path) -> None:
    code, found, _ = _lint_one(
        tmp_path,
        SAFE,
        "session = Session(bind=op.get_bind())",
        "done = session.execute(sa.text(\"UPDATE users SET note = 'x' WHERE id = :id\"), {'id': 7})",
        "assert done.rowcount == 0",
        'for row in session.execute(sa.text("SELECT id FROM users")).fetchall():',
        "    raise AssertionError('offline there are no rows')",
        "session.commit()",
        "session.close()",
        'op.drop_column("users", "legacy")',
    )
    assert (code, found) == (1, [(18, "drop-column")])


def test_upgrade_raising_part_way_lints_what_came_before(tmp_path: Path) -> None:
    code, found, out = _lint_one(
        tmp_path,
        SAFE,
        'op.drop_column("users", "a")',
        'raise RuntimeError("needs the production data")',
        'op.drop_column("users", "b")',
    )
    assert (code, found) == (1, [(11, "drop-column"), (12, "not-linted")])
    (message,) = [f["message"] for f in json.loads(out)["findings"] if f["rule"] == "not-linted"]
    assert message == (
        "not linted from line 12 on: upgrade() stopped rendering: "
        "RuntimeError: needs the production data"
    )


def test_version_locations_and_recursive_folders_of_alembic_ini(tmp_path: Path) -> None:
    ini = (
        "[alembic]\nscript_location = %(here)s/alembic\n"
        "version_locations = %(here)s/alembic/versions %(here)s/more\n"
        "recursive_version_locations = true\n"
    )
    project(tmp_path / "alembic", {"0001_a.py": revision("0001", None)})
    (tmp_path / "alembic.ini").write_text(ini)
    (tmp_path / "more" / "2026").mkdir(parents=True)
    (tmp_path / "more" / "2026" / "0002_b.py").write_text(
        revision("0002", "0001", SAFE, 'op.drop_column("users", "x")')
    )
    res = lint(str(tmp_path), "--format", "json")
    assert findings(res.stdout) == [("0002_b.py", 11, "drop-column")]
    assert json.loads(res.stdout)["summary"]["files"] == 2


def test_a_script_without_upgrade_is_not_linted_and_an_empty_project_is_exit_2(
    tmp_path: Path,
) -> None:
    script = tmp_path / "helpers.py"
    script.write_text('revision = "h"\ndown_revision = None\n')
    res = lint(str(script), "--format", "json")
    assert res.exit_code == 2
    (finding,) = json.loads(res.stdout)["findings"]
    assert finding["message"] == "revision not linted: it has no upgrade() function"
    empty = project(tmp_path / "empty", {})
    res = lint(str(empty))
    assert res.exit_code == 2
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith(f"error: {empty}: no revision scripts in {empty / 'versions'}")


ORM_REVISION = """\
import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session, declarative_base

revision = "0001"
down_revision = None
Base = declarative_base()


class Setting(Base):
    __tablename__ = "settings"
    id = sa.Column(sa.Integer, primary_key=True)


def upgrade() -> None:
    op.execute("SET lock_timeout = '1s'")
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("flag", sa.Boolean))
    bind = op.get_bind()
    bind.execute(users.insert(), [{"id": 1, "flag": True}, {"id": 2, "flag": False}])
    bind.execute(users.update().where(users.c.id == sa.bindparam("uid")), {"uid": 1, "flag": 0})
    session = Session(bind=bind)
    assert session.query(Setting).all() == [] and session.get(Setting, 1) is None
    session.close()
    op.drop_column("users", "legacy")
    session = Session(bind=bind)
    session.add(Setting(id=3))
    session.commit()
    op.drop_column("users", "later")
"""


def test_core_statements_with_parameters_and_orm_reads_render(tmp_path: Path) -> None:
    script = tmp_path / "0001_orm.py"
    script.write_text(ORM_REVISION)
    res = lint(str(script), "--format", "json")
    found = [(f["line"], f["rule"], f["message"]) for f in json.loads(res.stdout)["findings"]]
    # the ORM's INSERT at commit() is rendered (and holds on to the drop's lock), then
    # the flush needs the keys the server would send back
    assert [f[:2] for f in found] == [
        (24, "drop-column"),
        (27, "not-linted"),
        (27, "lock-held-across-statements"),
    ]
    assert found[1][2] == (
        "not linted from line 27 on: upgrade() stopped rendering: NeedsRows: it reads "
        "result.context (what the server answered): offline there is none"
    )
