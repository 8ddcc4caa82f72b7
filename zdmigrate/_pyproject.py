"""Finding and reading pyproject.toml, without the settings models (kept light for lint)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from zdmigrate.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["find_pyproject", "zdmigrate_table"]


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml in ``start`` (default: the working folder) or above."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def zdmigrate_table(path: Path) -> dict[str, Any]:
    """``[tool.zdmigrate]`` of ``path`` (empty when there is none)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read: {exc.strerror}", "give --config an existing pyproject.toml"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", "fix the TOML syntax") from None
    table = doc.get("tool", {}).get("zdmigrate", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.zdmigrate] must be a table")
    return table
