"""Lint settings: ``[tool.zdmigrate.lint]`` in pyproject.toml, then command-line flags."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from zdmigrate._pyproject import zdmigrate_table
from zdmigrate.errors import ConfigError
from zdmigrate.lint._model import Severity

__all__ = ["LintSettings", "load_lint_settings"]

_KEYS = {"select", "ignore", "exclude", "pg_version", "fail_on", "assume_in_transaction"}


@dataclass(frozen=True)
class LintSettings:
    """What ``zdmigrate lint`` is tuned by. Keys match ``[tool.zdmigrate.lint]``."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    pg_version: int = 15
    fail_on: Severity = Severity.WARNING
    assume_in_transaction: bool = False
    root: Path = field(default_factory=Path.cwd)
    # How zdmigrate migration files are planned (from [tool.zdmigrate] and flags).
    schema: str = "public"
    schema_file: str | None = None
    lock_timeout_ms: int = 500
    statement_timeout_ms: int = 0

    def with_flags(self, **flags: Any) -> LintSettings:
        given = {k: v for k, v in flags.items() if v is not None and v != ()}
        return replace(self, **given)


def _strings(where: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where}: '{key}' must be a list of strings", 'e.g. ignore = ["ZD213"]')


def _severity(where: str, value: Any) -> Severity:
    try:
        return Severity.parse(str(value))
    except KeyError:
        raise ConfigError(
            f"{where}: 'fail-on' must be info, warning or error, not {value!r}"
        ) from None


def _pg_version(where: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 9 <= value <= 99:
        return value
    raise ConfigError(f"{where}: 'pg-version' must be a major version such as 15, not {value!r}")


def _from_table(table: dict[str, Any], where: str, root: Path) -> LintSettings:
    data = {k.replace("-", "_"): v for k, v in table.items()}
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting '{unknown[0]}'",
            "accepted: " + ", ".join(sorted(k.replace("_", "-") for k in _KEYS)),
        )
    lists = {k: _strings(where, k, data[k]) for k in ("select", "ignore", "exclude") if k in data}
    out = LintSettings(root=root, **lists)  # type: ignore[arg-type]
    if "pg_version" in data:
        out = replace(out, pg_version=_pg_version(where, data["pg_version"]))
    if "fail_on" in data:
        out = replace(out, fail_on=_severity(where, data["fail_on"]))
    if "assume_in_transaction" in data:
        out = replace(out, assume_in_transaction=bool(data["assume_in_transaction"]))
    return out


def load_lint_settings(pyproject: Path | None) -> LintSettings:
    """Read ``[tool.zdmigrate.lint]`` from ``pyproject`` (defaults when there is none)."""
    if pyproject is None:
        return LintSettings()
    top = zdmigrate_table(pyproject)
    table = top.get("lint", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.zdmigrate.lint] must be a table")
    out = _from_table(table, f"{pyproject} [tool.zdmigrate.lint]", pyproject.parent)
    return replace(out, **_planning(top, f"{pyproject} [tool.zdmigrate]"))


def _planning(top: dict[str, Any], where: str) -> dict[str, Any]:
    """The [tool.zdmigrate] settings that shape a migration file's plan (the keys
    ``apply`` reads), so lint sees the SQL that runs."""
    data = {k.replace("-", "_"): v for k, v in top.items() if not isinstance(v, dict)}
    out: dict[str, Any] = {}
    if "schema" in data:
        if not isinstance(data["schema"], str) or not data["schema"]:
            raise ConfigError(f"{where}: 'schema' must be a schema name, not {data['schema']!r}")
        out["schema"] = data["schema"]
    for key in ("lock_timeout_ms", "statement_timeout_ms"):
        value = data.get(key)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(
                    f"{where}: '{key.replace('_', '-')}' must be a whole number of ms, "
                    f"not {value!r}"
                )
            out[key] = value
    return out
