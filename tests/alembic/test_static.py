"""Revisions read without importing them give what importing and rendering them gives.

Every case is a revision written to tmp_path; ``static`` ones must render statically
(so the fast path cannot silently vanish) and equal the real rendering (SQL, anchors,
existing types, findings); the others must fall back and lint as before.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS

from tests.alembic.static_check import rendered
from tests.lint.helpers import ALEMBIC_PROJECT, lint
from zdmigrate.alembic._static_sql import RESERVED
from zdmigrate.alembic.render import render_imported, render_script
from zdmigrate.alembic.static import render_static

HEAD = '"""A revision."""\nimport sqlalchemy as sa\nfrom alembic import op\n'
PG = "from sqlalchemy.dialects import postgresql\n"


def script(*body: str, head: str = HEAD, tail: str = "") -> str:
    lines = "\n".join(f"    {line}" for line in body) or "    pass"
    return (
        f"{head}\nrevision = 'r1'\ndown_revision = None\n{tail}\n\n"
        f"def upgrade() -> None:\n{lines}\n\n\ndef downgrade() -> None:\n    op.drop_table('x')\n"
    )


TYPES = [
    "sa.Integer()",
    "sa.Integer",
    "sa.BigInteger()",
    "sa.SmallInteger()",
    "sa.Text()",
    "sa.String()",
    "sa.String(50)",
    "sa.String(length=20)",
    "sa.Unicode(10)",
    "sa.Boolean()",
    "sa.DateTime()",
    "sa.DateTime(timezone=True)",
    "sa.Date()",
    "sa.Time()",
    "sa.Time(timezone=True)",
    "sa.Numeric()",
    "sa.Numeric(10)",
    "sa.Numeric(10, 2)",
    "sa.Numeric(precision=12, scale=4)",
    "sa.Float()",
    "sa.LargeBinary()",
    "sa.JSON()",
    "sa.Uuid()",
    "sa.Uuid(as_uuid=False)",
    "sa.UUID()",
    "sa.INTEGER()",
    "sa.BIGINT()",
    "sa.SMALLINT()",
    "sa.TEXT()",
    "sa.VARCHAR(length=50)",
    "sa.BOOLEAN()",
    "sa.DATE()",
    "sa.TIMESTAMP(timezone=True)",
    "sa.NUMERIC(8, 3)",
    "postgresql.JSONB()",
    "postgresql.JSONB(astext_type=sa.Text())",
    "postgresql.UUID()",
    "postgresql.UUID(as_uuid=True)",
    "postgresql.TIMESTAMP(timezone=True)",
    "postgresql.TIMESTAMP()",
    "postgresql.BYTEA()",
    "postgresql.DOUBLE_PRECISION()",
    "postgresql.INTEGER()",
    "postgresql.VARCHAR(length=5)",
]

STATIC = [
    ["pass"],
    ['"""Only a docstring."""'],
    ["op.execute(\"SET lock_timeout = '500ms'\")"],
    ['op.execute("SELECT 1;")'],
    ["op.execute(\"SELECT '50%', x::int, a[1:2]\")"],
    ['op.execute("  UPDATE t\\tSET a = 1\\n  ")'],
    ['op.execute(sa.text("UPDATE users SET name = lower(name)"))'],
    ["op.execute(", '    """', "    UPDATE t", "    SET a = 1", '    """', ")"],
    ['op.execute("SELECT 1")  # zdmigrate: ignore', "# a comment", 'op.execute("SELECT 2")'],
    ['op.add_column("users", sa.Column("c", sa.Text()))'],
    ['op.add_column("users", sa.Column("c", sa.Text(), nullable=True))'],
    ['op.add_column("Users", sa.Column("Order", sa.Integer(), nullable=False), schema="app")'],
    [
        'op.add_column("users", sa.Column("f", sa.Boolean(), nullable=False, server_default=sa.false()))'
    ],
    ['op.add_column("users", sa.Column("f", sa.Boolean(), server_default=sa.true()))'],
    ['op.add_column("users", sa.Column("s", sa.Text(), server_default="it\'s"))'],
    ['op.add_column("users", sa.Column("n", sa.Integer(), server_default=sa.text("0")))'],
    ['op.add_column("users", sa.Column("t", sa.DateTime(), server_default=sa.func.now()))'],
    ['op.add_column("users", sa.Column("t", sa.Text(), server_default=None))'],
    ['op.drop_column("users", "legacy")', 'op.drop_column("users", "user", schema="app")'],
    ['op.drop_table("users")', 'op.drop_table("users", schema="app")'],
    ['op.rename_table("a", "b")', 'op.rename_table("a", "select", schema="app")'],
    ['op.create_index("ix_a", "users", ["a"])'],
    ['op.create_index(op.f("ix_users_a"), "users", ["a", "b"], unique=False)'],
    ['op.create_index("ix_a", "users", ["a"], unique=True, schema="app")'],
    ['op.create_index("ix_a", "users", ["a"], if_not_exists=True)'],
    ['op.create_index("ix_a", "users", ["a"], postgresql_concurrently=True)'],
    [
        "with op.get_context().autocommit_block():",
        '    op.create_index("ix_a", "t", ["a"], postgresql_concurrently=True, unique=True)',
        "",
        "    # the second",
        '    op.execute("VACUUM t")',
        'op.execute("SELECT 1")',
    ],
    [
        'op.execute("SELECT 1")',
        "with op.get_context().autocommit_block():",
        "    op.create_index(",
        '        "ix_a",',
        '        "t",',
        '        ["a"],',
        "        postgresql_concurrently=True,",
        "    )",
    ],
    ['op.drop_index("ix_a")', 'op.drop_index("ix_a", table_name="users", schema="app")'],
    ['op.drop_index("ix_a", "users", if_exists=True, postgresql_concurrently=True)'],
    ['op.alter_column("users", "v", type_=sa.BigInteger())'],
    ['op.alter_column("users", "s", type_=sa.Text(), existing_type=sa.String(50))'],
    [
        'op.alter_column("users", "s", existing_type=sa.VARCHAR(length=50), '
        'type_=sa.Text(), existing_nullable=False, schema="app")'
    ],
    ['op.alter_column("users", "w", nullable=False)'],
    ['op.alter_column("users", "w", existing_type=sa.INTEGER(), nullable=True)'],
    ['op.alter_column("users", "old", new_column_name="new")'],
    ['op.alter_column("users", "d", server_default=None)'],
    ['op.alter_column("users", "d", server_default="x", existing_server_default=sa.text("1"))'],
    ['op.alter_column("users", "d", server_default=sa.text("now()"))'],
    ['op.alter_column("users", "d", type_=sa.Integer(), postgresql_using="d::integer")'],
    [
        "op.alter_column(",
        '    "users",',
        '    "d",',
        "    type_=sa.Integer(),",
        "    existing_type=sa.Text(),",
        "    nullable=False,",
        '    server_default="0",',
        '    new_column_name="e",',
        '    schema="app",',
        ")",
    ],
    ['op.create_foreign_key("fk_a", "orders", "users", ["u"], ["id"])'],
    ['op.create_foreign_key(None, "orders", "users", ["u", "v"], ["id", "w"])'],
    [
        'op.create_foreign_key("fk_a", "orders", "users", ["u"], ["id"], ondelete="CASCADE", '
        'onupdate="SET NULL", source_schema="s1", referent_schema="s2")'
    ],
    ['op.create_unique_constraint("uq_a", "orders", ["k"])'],
    ['op.create_unique_constraint(None, "orders", ["k", "j"], schema="app")'],
    ['op.create_check_constraint("ck_a", "orders", "c <> \'\'")'],
    ['op.create_check_constraint("ck_a", "orders", "c LIKE \'%x\'", schema="app")'],
    ['op.create_primary_key("pk_a", "orders", ["id"])'],
    ['op.drop_constraint("fk_a", "orders", type_="foreignkey")'],
    ['op.drop_constraint("uq_a", "orders", "unique", schema="app")'],
    ['op.drop_constraint("ck_a", "orders")', 'op.drop_constraint("pk", "o", type_="primary")'],
    [
        "op.create_table(",
        '    "items",',
        '    sa.Column("id", sa.BigInteger(), primary_key=True),',
        '    sa.Column("name", sa.Text(), nullable=False),',
        '    sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now()),',
        ")",
    ],
    [
        "op.create_table(",
        '    "items",',
        '    sa.Column("id", sa.Integer(), nullable=False),',
        '    sa.Column("user_id", sa.Integer(), nullable=True),',
        '    sa.Column("email", sa.String(length=255), nullable=False),',
        '    sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),',
        '    sa.PrimaryKeyConstraint("id"),',
        '    sa.UniqueConstraint("email"),',
        '    schema="app",',
        ")",
    ],
    [
        'op.create_table("b", sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("x", sa.Integer(), primary_key=True))'
    ],
    [
        'op.create_table("c", sa.Column("id", sa.Integer(), sa.ForeignKey("a.id")), '
        'sa.Column("x", sa.Integer(), sa.ForeignKey("app.a.id", '
        'ondelete="SET NULL")), sa.UniqueConstraint("x", name="uq_x"), '
        'sa.CheckConstraint("x > 0", name="ck_x"), sa.PrimaryKeyConstraint("id", name="pk_c"))'
    ],
    [
        'op.create_table("d", sa.Column("id", sa.Uuid(), primary_key=True, '
        'server_default=sa.text("gen_random_uuid()")), sa.Column("n", sa.Integer(), '
        'server_default="5", nullable=False), sa.ForeignKeyConstraint(["n"], ["o.id"], '
        'name="fk_n", onupdate="CASCADE"))'
    ],
    [
        'op.create_table("e", sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False))'
    ],
    ['op.create_table("f", sa.Column("id", sa.SmallInteger(), primary_key=True))'],
    ['op.create_table("g", sa.Column("id", sa.Integer, primary_key=True, server_default="1"))'],
    ['op.create_table("h", sa.Column("a", sa.Text()), sa.Column("b", sa.Text()))'],
    ['op.create_table("i", sa.Column("id", sa.Integer(), primary_key=True, server_default=None))'],
    [
        'op.create_table("j", sa.Column("a", sa.Text()), '
        'sa.CheckConstraint("a LIKE \'%x\'"), sa.CheckConstraint("a <> \'\'", name="ck_j"))'
    ],
    ['op.alter_column("t", "c", existing_type=sa.Text())'],
    ['op.alter_column("t", "c", type_=sa.Boolean(), existing_type=sa.Boolean())'],
    *([f'op.add_column("t", sa.Column("c", {t}))'] for t in TYPES),
    *([f'op.alter_column("t", "c", type_=sa.Text(), existing_type={t})'] for t in TYPES),
]

AUTOGENERATE = '''"""add accounts

Revision ID: 1a2b3c4d5e6f
Revises: 0f9e8d7c6b5a
Create Date: 2026-12-07 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '1a2b3c4d5e6f'
down_revision: Union[str, None] = '0f9e8d7c6b5a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_accounts_email'), 'accounts', ['email'], unique=True)
    op.alter_column('users', 'name',
               existing_type=sa.VARCHAR(length=50),
               type_=sa.Text(),
               existing_nullable=True)
    # ### end Alembic commands ###


def downgrade() -> None:
    """Downgrade schema."""
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index(op.f('ix_accounts_email'), table_name='accounts')
    op.drop_table('accounts')
    # ### end Alembic commands ###
'''

FALLBACK = {
    "module-level code": script('op.execute("SELECT 1")', tail="print('imported')"),
    "a project import": script('op.execute("SELECT 1")', head=HEAD + "from app import models\n"),
    "a variable": script('table = "users"', 'op.drop_column(table, "c")'),
    "an f-string": script('op.execute(f"SELECT {1}")'),
    "a loop": script('for t in ("a", "b"):', "    op.drop_table(t)"),
    "a conditional": script("if True:", '    op.drop_table("a")'),
    "op.get_bind()": script('op.get_bind().execute(sa.text("SELECT 1"))'),
    "batch_alter_table": script(
        'with op.batch_alter_table("t") as batch:', '    batch.drop_column("c")'
    ),
    "sa.Enum": script('op.add_column("t", sa.Column("c", sa.Enum("a", "b", name="e")))'),
    "an unknown type": script('op.add_column("t", sa.Column("c", sa.Interval()))'),
    "an unknown keyword": script('op.add_column("t", sa.Column("c", sa.Text(), comment="x"))'),
    "autoincrement=True": script(
        'op.create_table("t", sa.Column("a", sa.Integer(), primary_key=True, autoincrement=True),'
        ' sa.Column("b", sa.Integer(), primary_key=True))'
    ),
    "*args": script('op.drop_column(*["t", "c"])'),
    "a bound parameter": script('op.execute("UPDATE t SET a = :a")'),
    "a helper function": script('op.drop_table("a")', tail="\ndef helper():\n    pass\n"),
    "a broken import": script('op.drop_table("a")', head=HEAD + "from typing import Nope\n"),
    "a name needing escapes": script('op.drop_table("my-table")'),
    "an unknown op": script('op.bulk_insert(sa.table("t"), [])'),
    "a call split before its name": script("(op", '    .drop_table("a"))'),
    "a missing argument": script("op.drop_table()"),
    "a syntax error": script("op.drop_table("),
    "a compile error in downgrade()": script('op.drop_table("a")').replace(
        "op.drop_table('x')", "break"
    ),
}


def _write(tmp_path: Path, text: str, name: str = "0001_rev.py") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("body", STATIC, ids=[b[0][:60] for b in STATIC])
def test_known_constructs_render_statically_as_alembic_does(
    tmp_path: Path, body: list[str]
) -> None:
    path = _write(tmp_path, script(*body, head=HEAD + PG))
    static = render_static(path)
    assert static is not None
    assert rendered(static) == rendered(render_imported(path))


def _split(line: str) -> list[str]:
    """``op.name(a, b=c)`` as Black would write it on several lines."""
    call = ast.parse(line).body[0].value  # type: ignore[attr-defined]
    args = [ast.unparse(a) for a in call.args]
    args += [f"{k.arg}={ast.unparse(k.value)}" for k in call.keywords]
    return [f"{ast.unparse(call.func)}(", *(f"    {a}," for a in args), ")"]


def _random_body(rng: random.Random) -> list[str]:
    """Two to six known op calls, some split over lines, some in an autocommit block,
    with comments and blank lines between, on tables that need quoting or not."""
    calls = [b[0] for b in STATIC if len(b) == 1 and b[0].startswith("op.")]
    typed = [c for c in calls if '"t", ' in c]
    plain = [c for c in calls if c not in typed]
    body: list[str] = []
    for _ in range(rng.randint(2, 6)):
        table = rng.choice(["users", "Users", "order", "t_1"])
        call = rng.choice(typed if rng.random() < 0.2 else plain)
        call = call.replace('"users"', f'"{table}"')
        lines = _split(call) if rng.random() < 0.4 else [call]
        if rng.random() < 0.25:
            lines = ["with op.get_context().autocommit_block():", *(f"    {x}" for x in lines)]
        if rng.random() < 0.3:
            lines.insert(rng.randint(0, len(lines) - 1), "# a comment")
        body.extend([*lines, ""] if rng.random() < 0.2 else lines)
    return body


def test_random_revisions_render_statically_as_alembic_does(tmp_path: Path) -> None:
    rng = random.Random(14)
    for number in range(80):
        path = _write(tmp_path, script(*_random_body(rng), head=HEAD + PG), f"{number}.py")
        static = render_static(path)
        assert static is not None, path.read_text()
        assert rendered(static) == rendered(render_imported(path)), path.read_text()


def test_an_autogenerated_revision_renders_statically(tmp_path: Path) -> None:
    path = _write(tmp_path, AUTOGENERATE)
    static = render_static(path)
    assert static is not None
    assert rendered(static) == rendered(render_imported(path))
    assert static.existing_types[0].type_sql == "VARCHAR(50)"


@pytest.mark.parametrize("text", list(FALLBACK.values()), ids=list(FALLBACK))
def test_other_revisions_are_imported_and_lint_as_before(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    assert render_static(path) is None
    assert rendered(render_script(path)) == rendered(render_imported(path))


def _bench() -> object:
    where = Path(__file__).parents[2] / "bench" / "lint_history.py"
    spec = importlib.util.spec_from_file_location("bench_lint_history", where)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_revision_of_the_benchmark_history_renders_statically(tmp_path: Path) -> None:
    scripts = _bench().make_history(tmp_path, 300)  # type: ignore[attr-defined]
    for path in scripts:
        static = render_static(path)
        assert static is not None, path.read_text()
        assert rendered(static) == rendered(render_imported(path)), path.read_text()


def test_the_fixture_project_renders_statically() -> None:
    for path in sorted((ALEMBIC_PROJECT / "versions").glob("*.py")):
        static = render_static(path)
        assert static is not None, path
        assert rendered(static) == rendered(render_imported(path))


def test_reserved_words_are_sqlalchemys() -> None:
    assert set(RESERVED) == set(RESERVED_WORDS)


CHECK_IMPORTS = """
import json, sys
from zdmigrate.cli.app import app
try:
    app(["lint", "--format", "json", sys.argv[1]])
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in ("alembic", "sqlalchemy") if m in sys.modules)
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def _lint_in_process(path: Path) -> tuple[list[tuple[int, str]], dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORTS, str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=path.parent,
    )
    found = [(f["line"], f["rule"]) for f in json.loads(done.stdout)["findings"]]
    return found, json.loads(done.stderr.strip().splitlines()[-1])


def test_linting_a_plain_revision_imports_neither_alembic_nor_sqlalchemy(tmp_path: Path) -> None:
    body = ['op.add_column("users", sa.Column("c", sa.Text(), nullable=False))']
    plain = _write(tmp_path, script(*body), "0001_plain.py")
    imported = _write(tmp_path, script(*body, tail="print('imported')"), "0002_imported.py")
    found, run = _lint_in_process(plain)
    assert run == {"code": 1, "loaded": []}
    assert (10, "add-required-column") in found
    found_imported, run_imported = _lint_in_process(imported)
    assert run_imported == {"code": 1, "loaded": ["alembic", "sqlalchemy"]}
    assert found_imported == found


def test_lint_cli_findings_are_the_same_both_ways(tmp_path: Path) -> None:
    body = ['op.drop_column("users", "legacy")', 'op.create_index("ix", "users", ["a"])']
    plain = _write(tmp_path, script(*body), "0001_plain.py")
    res = lint(str(plain), "--format", "json")
    static = [(f["line"], f["rule"]) for f in json.loads(res.stdout)["findings"]]
    plain.write_text(script(*body, tail="x = 1 + 1"))
    res = lint(str(plain), "--format", "json")
    assert static == [(f["line"], f["rule"]) for f in json.loads(res.stdout)["findings"]]
    assert ("drop-column" in {r for _, r in static}) and len(static) >= 2
