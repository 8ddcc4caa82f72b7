"""A real PgBouncer in front of the test server, started on a free local port.

The binary is the Debian package's (``apt-get install pgbouncer``: the README's
test command and ``.ci/run`` install it; without it these tests fail, saying
so) or ``$ZDMIGRATE_PGBOUNCER``. It runs in the foreground as a child
of the test (as ``nobody`` when the tests run as root, which PgBouncer
refuses), with trust authentication for the roles the test names.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

HOW_TO_GET_IT = (
    "PgBouncer not found: apt-get install pgbouncer (the tests start it themselves), "
    "or set ZDMIGRATE_PGBOUNCER to its binary"
)


def _binary() -> str:
    found = os.environ.get("ZDMIGRATE_PGBOUNCER") or shutil.which("pgbouncer")
    if not found and Path("/usr/sbin/pgbouncer").exists():
        found = "/usr/sbin/pgbouncer"
    if not found:
        pytest.fail(HOW_TO_GET_IT, pytrace=False)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def pgbouncer(server_url: str, mode: str, users: list[str]) -> Iterator[int]:
    """PgBouncer in ``mode`` (session, transaction) for ``users``; yields its port.
    In transaction pooling one server connection per user and database, so
    consecutive transactions of different clients share it, as they do on a busy
    pool (session pooling gives each client its own: a few)."""
    info = psycopg.conninfo.conninfo_to_dict(server_url)
    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="zdm-pgbouncer-"))
    (folder / "users.txt").write_text("".join(f'"{u}" ""\n' for u in users))
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={info.get('host', '127.0.0.1')} port={info.get('port', 5432)}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        f"pool_mode = {mode}\ndefault_pool_size = {1 if mode == 'transaction' else 4}\n"
        "max_client_conn = 50\nquery_wait_timeout = 15\n"
        "ignore_startup_parameters = extra_float_digits\n"
    )
    for path in folder.iterdir():
        path.chmod(0o644)
    folder.chmod(0o755)
    command = [_binary(), str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        # a server reached by its socket directory: run as that directory's owner (the
        # server's own user), who may open the socket; else as nobody
        host = str(info.get("host", ""))
        owner = pwd.getpwuid(os.stat(host).st_uid).pw_name if host.startswith("/") else "nobody"
        command[1:1] = ["-u", owner]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    out = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"PgBouncer did not start: {out[-2000:]}", pytrace=False)
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def through(url: str, port: int, **kw: object) -> psycopg.Connection[object]:
    """A connection to ``url``'s database and user through PgBouncer on ``port``; no
    server-side prepared statements (transaction pooling cannot keep them)."""
    target = psycopg.conninfo.make_conninfo(url, host="127.0.0.1", port=port)
    conn: psycopg.Connection[object] = psycopg.connect(
        target,
        autocommit=True,
        prepare_threshold=None,
        **kw,  # type: ignore[arg-type]
    )
    return conn
