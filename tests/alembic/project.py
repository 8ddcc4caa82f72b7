"""A real Alembic project in a folder: ``alembic init``'s files, an env.py that uses
zdmigrate's hooks (unless told not to), models, revisions; run with the real
``alembic`` command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

ENV_PY = """
import os
import sys

from alembic import context
from sqlalchemy import create_engine, pool

import zdmigrate.alembic

sys.path.insert(0, os.getcwd())
try:
    from models import metadata
except ImportError:
    metadata = None

URL = os.environ["APP_SQLALCHEMY_URL"]
HOOKS = os.environ.get("ZDM_HOOKS", "1") == "1"
hooks = (
    {
        "include_object": zdmigrate.alembic.include_object,
        "include_name": zdmigrate.alembic.include_name,
    }
    if HOOKS
    else {}
)

if context.is_offline_mode():
    context.configure(
        url=URL,
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(URL, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_schemas=True,
            transaction_per_migration=os.environ.get("APP_TX_PER_MIGRATION", "1") == "1",
            **hooks,
        )
        with context.begin_transaction():
            context.run_migrations()
"""


def sqlalchemy_url(conninfo: str) -> str:
    """A SQLAlchemy URL (psycopg 3 driver) for a libpq URL or conninfo string; a socket
    folder (an embedded server's) goes in the query, as libpq takes it."""
    d = {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(conninfo).items()}
    host, port = d.get("host", "127.0.0.1"), d.get("port", "5432")
    socket = host.startswith("/")
    url = URL.create(
        "postgresql+psycopg",
        username=d.get("user"),
        password=d.get("password"),
        host=None if socket else host,
        port=None if socket else int(port),
        database=d.get("dbname"),
        query={"host": host, "port": port} if socket else {},
    )
    return url.render_as_string(hide_password=False)


class Project:
    def __init__(self, root: Path, conninfo: str) -> None:
        self.root = root
        self.url = sqlalchemy_url(conninfo)
        self.stderr = ""
        config = Config(str(root / "alembic.ini"))
        command.init(config, str(root / "alembic"))
        (root / "alembic" / "env.py").write_text(ENV_PY)
        (root / "migrations").mkdir()

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def revision(self, rev: str, down: str | None, upgrade: str, downgrade: str = "pass") -> None:
        body = (
            f'"""{rev}"""\n'
            "from alembic import op\nimport sqlalchemy as sa\nimport zdmigrate.alembic\n\n"
            f"revision = {rev!r}\ndown_revision = {down!r}\n"
            "branch_labels = None\ndepends_on = None\n\n\n"
            f"def upgrade():\n{textwrap.indent(textwrap.dedent(upgrade).strip(), '    ')}\n\n\n"
            f"def downgrade():\n    {downgrade}\n"
        )
        (self.root / "alembic" / "versions" / f"{rev}.py").write_text(body)

    def alembic(
        self, *args: str, hooks: bool = True, per_migration: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "APP_SQLALCHEMY_URL": self.url, "ZDM_HOOKS": "1" if hooks else "0"}
        env["APP_TX_PER_MIGRATION"] = "1" if per_migration else "0"
        # a deploy's connection, not the tests' own (which the gate is told to ignore)
        env["PGAPPNAME"] = "deploy"
        env.pop("ZDMIGRATE_DATABASE_URL", None)
        env.pop("DATABASE_URL", None)
        return subprocess.run(
            [sys.executable, "-m", "alembic", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def autogenerate(self, hooks: bool = True) -> str:
        """The body of the generated revision's upgrade(), its comments and docstring left
        out."""
        versions = self.root / "alembic" / "versions"
        before = set(versions.glob("*.py"))
        done = self.alembic("revision", "--autogenerate", "-m", "check", hooks=hooks)
        assert done.returncode == 0, done.stderr
        self.stderr = done.stderr
        (new,) = set(versions.glob("*.py")) - before
        text = new.read_text()
        new.unlink()
        body = re.search(r"def upgrade\(\)[^:]*:\n(.*?)\n\n\ndef downgrade", text, re.S)
        assert body is not None, text
        lines = [line.strip() for line in body[1].splitlines()]
        code = [line for line in lines if line and not line.startswith(("#", '"""'))]
        return "\n".join(code)
