"""Volatility of PostgreSQL's built-in functions, from ``pg_proc``.

``data/volatility.json`` maps each function name in ``pg_catalog`` to the
volatility classes of its overloads (``i`` immutable, ``s`` stable,
``v`` volatile). It is generated from a real server with::

    python -m zdmigrate.lint.volatility URL [URL ...]

(the union over every server given: the checked-in list covers PostgreSQL 15
and 18) and checked in, so linting needs no database.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from functools import cache
from pathlib import Path

__all__ = ["Volatility", "builtin_volatility", "generate"]


class Volatility(str, Enum):
    IMMUTABLE = "immutable"
    STABLE = "stable"
    VOLATILE = "volatile"
    UNKNOWN = "unknown"


_CODES = {"i": Volatility.IMMUTABLE, "s": Volatility.STABLE, "v": Volatility.VOLATILE}


@cache
def _table() -> dict[str, str]:
    # a plain path: importlib.resources imports tempfile, shutil, bz2 and lzma, a few
    # milliseconds of every lint run (the package is always installed as files)
    text = (Path(__file__).parent / "data" / "volatility.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)["functions"]
    return data


def builtin_volatility(name: str) -> Volatility:
    """The worst volatility among the overloads of built-in ``name``; UNKNOWN if not built in."""
    codes = _table().get(name.lower())
    if codes is None:
        return Volatility.UNKNOWN
    for code in "vsi":
        if code in codes:
            return _CODES[code]
    return Volatility.UNKNOWN


_QUERY = """
SELECT p.proname, string_agg(DISTINCT p.provolatile::text, '' ORDER BY p.provolatile::text)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'pg_catalog'
GROUP BY p.proname ORDER BY p.proname
"""


def _read(url: str) -> tuple[str, dict[str, str]]:
    import psycopg

    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        rows = conn.execute(_QUERY).fetchall()
    return (str(version[0]) if version else ""), {name: codes for name, codes in rows}


def generate(*urls: str) -> str:
    """The JSON text of ``data/volatility.json``: the union over the servers at ``urls``."""
    versions: list[str] = []
    functions: dict[str, str] = {}
    for url in urls:
        version, found = _read(url)
        versions.append(version)
        for name, codes in found.items():
            functions[name] = "".join(sorted(set(functions.get(name, "")) | set(codes)))
    doc = {
        "source": "pg_proc of pg_catalog",
        "server_versions": versions,
        "functions": dict(sorted(functions.items())),
    }
    return json.dumps(doc, indent=0, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(generate(*sys.argv[1:]))
