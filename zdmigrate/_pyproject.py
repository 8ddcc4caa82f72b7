"""Finding pyproject.toml, without importing the settings models (kept light for lint)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["find_pyproject"]


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml in ``start`` (default: the working folder) or above."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None
