"""Static-code evidence: SQL strings and SQLAlchemy models that still use deprecated objects."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from zdmigrate.errors import ConfigError
from zdmigrate.gate.code import CodeEvidence, Deprecated, scan_models, scan_paths

FILLER = Deprecated("public", "accounts", "filler")
ORDERS = Deprecated("public", "orders", None)


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return hits[nth - 1]


def found(evidence: list[CodeEvidence]) -> list[tuple[str, int, Deprecated, str]]:
    return [(e.file, e.line, e.object, e.kind) for e in evidence]


def sql_in(tmp_path: Path, body: str, deprecated: set[Deprecated] | None = None) -> list[str]:
    """Summaries of the evidence in one function holding ``body``."""
    write(tmp_path, "q.py", "def f(cur, x):\n" + textwrap.indent(textwrap.dedent(body), "    "))
    return [e.summary for e in scan_paths([str(tmp_path)], deprecated or {FILLER})]


# ----------------------------------------------------------------------------- SQL strings

APP = '''
    """Account access. SELECT filler FROM accounts is how it used to be."""
    import logging

    log = logging.getLogger(__name__)


    def load(cur, account_id):
        # filler is going away: SELECT filler FROM accounts
        cur.execute("SELECT filler FROM accounts WHERE id = %s", (account_id,))
        log.info("filler column removed")
        cur.execute("SELECT filler FROM history WHERE id = %(id)s", {"id": account_id})
        return cur.fetchone()


    def dump(cur):
        cur.execute(
            """
            SELECT id,
                   *
            FROM accounts
            """
        )


    def restore(cur, row):
        cur.execute("INSERT INTO accounts VALUES (%s, %s)", row)


    def by_name(cur, name):
        cur.execute(f"SELECT a.filler FROM accounts a WHERE a.name = {name!r}")
'''


def test_sql_strings_in_an_app_tree(tmp_path: Path) -> None:
    db = write(tmp_path, "app/db.py", APP)
    evidence = scan_paths([str(tmp_path / "app")], {FILLER})
    f = str(db)
    assert found(evidence) == [
        (f, line_of(db, "SELECT filler FROM accounts WHERE"), FILLER, "sql"),
        (f, line_of(db, "  *"), FILLER, "sql"),
        (f, line_of(db, "INSERT INTO accounts VALUES"), FILLER, "sql"),
        (f, line_of(db, 'f"SELECT a.filler'), FILLER, "sql"),
    ]
    assert [e.summary for e in evidence] == [
        "SQL string reads accounts.filler",
        "SQL string reads accounts.filler (via *)",
        "SQL string writes accounts.filler (INSERT without a column list)",
        "SQL string reads accounts.filler",
    ]


def test_comments_log_messages_docstrings_other_tables_and_ddl_are_not_evidence(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "app/quiet.py",
        '''
        def f(cur, log):
            """SELECT filler FROM accounts"""
            # SELECT filler FROM accounts
            log.warning("filler column removed")
            log.warning("select the filler from accounts")
            cur.execute("SELECT filler FROM history WHERE id = %s")
            cur.execute("SELECT h.filler FROM history h JOIN accounts a ON a.id = h.id")
            cur.execute("SELECT * FROM billing.accounts")
            cur.execute("ALTER TABLE accounts DROP COLUMN filler")
            cur.execute("WITH accounts AS (SELECT 1 AS filler) SELECT filler FROM accounts")
            cur.execute("SELECT balance AS filler FROM accounts ORDER BY filler")
        ''',
    )
    assert scan_paths([str(tmp_path)], {FILLER}) == []


def test_implicit_concatenation_reports_the_line_of_each_piece(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "q.py",
        """
        def f(cur, n):
            cur.execute(
                "SELECT id "
                "FROM accounts a "  # the table
                f"WHERE a.filler > {n} "
            )
        """,
    )
    evidence = scan_paths([str(path)], {FILLER, Deprecated("public", "accounts", None)})
    assert found(evidence) == [
        (str(path), 4, Deprecated("public", "accounts", None), "sql"),
        (str(path), 5, FILLER, "sql"),
    ]
    assert evidence[0].summary == "SQL string reads accounts"


@pytest.mark.parametrize(
    ("body", "summaries"),
    [
        (
            'cur.execute("UPDATE accounts SET filler = %s WHERE id = %s")',
            ["SQL string writes accounts.filler"],
        ),
        (
            'cur.execute("INSERT INTO accounts (id, filler) VALUES (:id, :f)")',
            ["SQL string writes accounts.filler"],
        ),
        (
            'cur.execute("UPDATE accounts SET id = 1 RETURNING filler")',
            ["SQL string reads accounts.filler"],
        ),
        (
            'cur.execute("INSERT INTO accounts AS t (id) VALUES (1) '
            'ON CONFLICT (id) DO UPDATE SET id = excluded.filler")',
            ["SQL string reads accounts.filler"],
        ),
        (
            'cur.execute("SELECT a.* FROM accounts a JOIN history h USING (id)")',
            ["SQL string reads accounts.filler (via a.*)"],
        ),
        (
            'cur.execute("SELECT public.accounts.filler FROM accounts")',
            ["SQL string reads accounts.filler"],
        ),
        (
            'cur.execute("SELECT row_to_json(a) FROM accounts a")',
            ["SQL string reads accounts.filler (whole-row reference a)"],
        ),
        (
            'cur.execute("SELECT h.id FROM history h WHERE EXISTS '
            '(SELECT 1 FROM accounts a WHERE a.id = h.id AND filler = 1)")',
            ["SQL string reads accounts.filler"],
        ),
        (
            'cur.execute("SELECT s.x FROM (SELECT filler AS x FROM accounts) s")',
            ["SQL string reads accounts.filler"],
        ),
        (
            'cur.execute("WITH old AS (SELECT filler FROM accounts) SELECT * FROM old")',
            ["SQL string reads accounts.filler"],
        ),
        (
            'cur.execute("COPY accounts (id, filler) TO STDOUT")',
            ["SQL string reads accounts.filler"],
        ),
        (
            'cur.execute("COPY accounts FROM STDIN")',
            ["SQL string writes accounts.filler (COPY without a column list)"],
        ),
        (
            'cur.execute("SELECT id FROM accounts JOIN history USING (filler)")',
            ["SQL string reads accounts.filler (JOIN USING)"],
        ),
        (
            'cur.execute(sql.SQL("SELECT filler FROM accounts WHERE id = {}"))',
            ["SQL string reads accounts.filler"],
        ),
        ('cur.execute(f"SELECT filler FROM {x}")', []),
        (
            'cur.execute("SELECT filler FROM public.accounts; SHOW search_path")',
            ["SQL string reads accounts.filler"],
        ),
        ('cur.execute("SELECT id FROM accounts")', []),
        ('cur.execute(b"SELECT filler FROM accounts")', []),
    ],
)
def test_statement_shapes(tmp_path: Path, body: str, summaries: list[str]) -> None:
    assert sql_in(tmp_path, body) == summaries


def test_a_deprecated_table_in_sql(tmp_path: Path) -> None:
    assert sql_in(
        tmp_path,
        """
        cur.execute("DELETE FROM orders WHERE id = %s")
        cur.execute("SELECT count(*) FROM public.orders")
        cur.execute("SELECT * FROM shop.orders")
        cur.execute("WITH orders AS (SELECT 1) SELECT * FROM orders")
        """,
        {ORDERS},
    ) == ["SQL string deletes from orders", "SQL string reads orders"]


# -------------------------------------------------------------------- SQLAlchemy, statically

MODELS = """
    import sqlalchemy as sa
    from sqlalchemy import Column, Integer, MetaData, String, Table
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    metadata = MetaData()

    accounts_table = Table(
        "accounts",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("filler", String),
        schema="public",
    )
    billing_accounts = Table("accounts", metadata, sa.Column("filler", String), schema="billing")


    class Base(DeclarativeBase):
        pass


    class Account(Base):
        __tablename__ = "accounts"
        __table_args__ = {"schema": "public"}

        id: Mapped[int] = mapped_column(primary_key=True)
        old_filler: Mapped[str] = mapped_column("filler", String)


    class Order(Base):
        __tablename__ = "orders"

        id: Mapped[int] = mapped_column(primary_key=True)
        filler: Mapped[str]
        legacy = Column(String)


    class Note(Base):
        __tablename__ = "notes"

        id: Mapped[int] = mapped_column(primary_key=True)
        filler: Mapped[str]
"""


def test_sqlalchemy_models_statically(tmp_path: Path) -> None:
    models = write(tmp_path, "app/models.py", MODELS)
    order_filler = Deprecated("public", "orders", "filler")
    legacy = Deprecated("public", "orders", "legacy")
    evidence = scan_paths([str(tmp_path)], {FILLER, ORDERS, order_filler, legacy})
    f = str(models)
    assert found(evidence) == [
        (f, line_of(models, 'Column("filler", String)'), FILLER, "model"),
        (f, line_of(models, 'mapped_column("filler"'), FILLER, "model"),
        (f, line_of(models, "class Order"), ORDERS, "model"),
        (f, line_of(models, "filler: Mapped[str]", nth=2), order_filler, "model"),
        (f, line_of(models, "legacy = Column"), legacy, "model"),
    ]
    assert [e.summary for e in evidence] == [
        "SQLAlchemy Table accounts_table maps accounts.filler",
        "SQLAlchemy model Account maps accounts.filler",
        "SQLAlchemy model Order maps orders",
        "SQLAlchemy model Order maps orders.filler",
        "SQLAlchemy model Order maps orders.legacy",
    ]


def test_models_without_a_schema_match_any_schema_and_mixins_count(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "app/base.py",
        """
        from sqlalchemy.orm import Mapped


        class Stamped:
            filler: Mapped[str]
        """,
    )
    models = write(
        tmp_path,
        "app/models.py",
        """
        from sqlalchemy import ForeignKey
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        from app.base import Stamped


        class Base(DeclarativeBase):
            pass


        class Account(Stamped, Base):
            __tablename__ = "accounts"
            id: Mapped[int] = mapped_column(primary_key=True)


        class Premium(Account):
            perks: Mapped[str] = mapped_column(nullable=True)


        class Ref(Base):
            __tablename__ = "refs"
            id: Mapped[int] = mapped_column(ForeignKey("billing.accounts.perks"), primary_key=True)
        """,
    )
    perks = Deprecated("billing", "accounts", "perks")
    filler = Deprecated("billing", "accounts", "filler")
    evidence = scan_paths([str(tmp_path)], {perks, filler})
    assert found(evidence) == [
        (str(base), line_of(base, "filler: Mapped"), filler, "model"),
        (str(models), line_of(models, "perks: Mapped"), perks, "model"),
        (str(models), line_of(models, "ForeignKey("), perks, "model"),
    ]
    assert [e.summary for e in evidence] == [
        "SQLAlchemy model Account maps billing.accounts.filler (from Stamped)",
        "SQLAlchemy model Premium maps billing.accounts.perks",
        "SQLAlchemy ForeignKey references billing.accounts.perks",
    ]


# ------------------------------------------------------------------------- files and folders


def test_skipped_folders_broken_files_and_bad_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = 'q = "SELECT filler FROM accounts"\n'
    kept = write(tmp_path, "app/ok.py", query)
    for rel in (
        ".venv/lib/x.py",
        "venv/lib/python3.11/site-packages/pkg/x.py",
        "app/__pycache__/x.py",
        "app/.hidden/x.py",
        "env2/x.py",
        "app/notes.txt",
    ):
        write(tmp_path, rel, query)
    (tmp_path / "env2" / "pyvenv.cfg").write_text("home = /usr\n")
    write(tmp_path, "app/broken.py", 'q = "SELECT filler FROM accounts"\ndef (:\n')
    assert found(scan_paths([str(tmp_path)], {FILLER})) == [(str(kept), 1, FILLER, "sql")]
    # a file named explicitly is read whatever its name
    hidden = tmp_path / "app/.hidden/x.py"
    assert found(scan_paths([str(hidden)], {FILLER})) == [(str(hidden), 1, FILLER, "sql")]

    with pytest.raises(ConfigError) as missing:
        scan_paths([str(tmp_path / "nope")], {FILLER})
    assert str(tmp_path / "nope") in missing.value.message

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ConfigError) as unreadable:
        scan_paths([str(kept)], {FILLER})
    assert unreadable.value.message == f"cannot read {kept}: Permission denied"


# ------------------------------------------------------------------------------ scan_models

RUNTIME_MODELS = """
    from sqlalchemy import Column, Integer, MetaData, String, Table
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


    class Base(DeclarativeBase):
        pass


    class Account(Base):
        __tablename__ = "accounts"

        id: Mapped[int] = mapped_column(primary_key=True)
        filler: Mapped[str] = mapped_column(String)


    class Order(Base):
        __tablename__ = "orders"

        id: Mapped[int] = mapped_column(primary_key=True)


    core = MetaData()
    history = Table("accounts", core, Column("id", Integer), Column("filler", String))
"""


@pytest.fixture
def module_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"zdm_models_{uuid.uuid4().hex[:8]}"
    monkeypatch.chdir(tmp_path)
    yield name
    sys.modules.pop(name, None)


def test_scan_models_finds_mapped_columns_and_tables(tmp_path: Path, module_name: str) -> None:
    path = write(tmp_path, f"{module_name}.py", RUNTIME_MODELS)
    path_before = list(sys.path)
    evidence = scan_models(f"{module_name}:Base", {FILLER, ORDERS})
    assert sys.path == path_before
    assert found(evidence) == [
        (str(path), line_of(path, "filler: Mapped"), FILLER, "model"),
        (str(path), line_of(path, "class Order"), ORDERS, "model"),
    ]
    assert [e.summary for e in evidence] == [
        "SQLAlchemy model Account maps accounts.filler",
        "SQLAlchemy model Order maps orders",
    ]
    # a MetaData of Core tables; and the registry of the base
    core = scan_models(f"{module_name}:core", {FILLER, Deprecated("public", "accounts", "gone")})
    assert found(core) == [(str(path), line_of(path, 'Column("filler"'), FILLER, "model")]
    assert core[0].summary == "SQLAlchemy Table accounts maps accounts.filler"
    assert found(scan_models(f"{module_name}:Base.registry", {FILLER})) == found(evidence)[:1]
    assert scan_models(f"{module_name}:Base", {Deprecated("billing", "orders", "x")}) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{m}", "models spec '{m}' is not package.module:attribute"),
        (
            "{m}_nope:Base",
            "cannot import {m}_nope for models spec '{m}_nope:Base': "
            "ModuleNotFoundError: No module named '{m}_nope'",
        ),
        ("{m}:Nope", "module {m} has no attribute Nope (models spec '{m}:Nope')"),
        (
            "{m}:Account.id.nope",
            "module {m} has no attribute Account.id.nope (models spec '{m}:Account.id.nope')",
        ),
        ("{m}:String", "models spec '{m}:String' names <class 'sqlalchemy.sql.sqltypes.String'>"),
    ],
)
def test_scan_models_bad_specs(tmp_path: Path, module_name: str, spec: str, message: str) -> None:
    write(tmp_path, f"{module_name}.py", RUNTIME_MODELS)
    with pytest.raises(ConfigError) as err:
        scan_models(spec.format(m=module_name), {FILLER})
    assert err.value.message.startswith(message.format(m=module_name))
    assert "\n" not in err.value.one_line()
    assert err.value.hint


def test_scan_models_import_failure_is_one_line(tmp_path: Path, module_name: str) -> None:
    write(tmp_path, f"{module_name}.py", 'raise RuntimeError("no DATABASE_URL\\nset it first")\n')
    with pytest.raises(ConfigError) as err:
        scan_models(f"{module_name}:Base", {FILLER})
    assert err.value.message == (
        f"cannot import {module_name} for models spec '{module_name}:Base': "
        "RuntimeError: no DATABASE_URL set it first"
    )
