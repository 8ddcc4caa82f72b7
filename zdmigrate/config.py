"""Settings: ``[tool.zdmigrate]`` in pyproject.toml, then environment, then flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zdmigrate._pyproject import find_pyproject, zdmigrate_table
from zdmigrate.errors import ConfigError

__all__ = ["Settings", "database_url_from_env", "find_pyproject", "load_settings"]

URL_ENV_VARS = ("ZDMIGRATE_DATABASE_URL", "DATABASE_URL")
# list settings the environment may set (comma-separated), as a CI job or a test harness does
LIST_ENV = {
    "ZDMIGRATE_GATE_IGNORE_APPLICATIONS": "gate_ignore_applications",
    "ZDMIGRATE_GATE_ALLOW_UNAVAILABLE": "gate_allow_unavailable",
}


class Settings(BaseModel):
    """Everything a command may be tuned by. Field names are the pyproject keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str | None = None
    schema_name: str = Field("public", alias="schema")
    migrations_dir: str = "migrations"
    mode: Literal["version", "physical"] = "version"
    lock_timeout_ms: int = Field(500, ge=1, le=600_000)
    lock_retry_budget_s: float = Field(30.0, gt=0)
    statement_timeout_ms: int = Field(0, ge=0)
    batch_size: int = Field(1000, ge=1)
    min_batch_size: int = Field(100, ge=1)
    max_batch_size: int = Field(50_000, ge=1)
    target_batch_ms: int = Field(100, ge=1)
    sleep_ratio: float = Field(0.0, ge=0)
    max_replica_lag_s: float = Field(10.0, gt=0)
    verify: bool = True
    verify_report_limit: int = Field(20, ge=1)
    # sessions the gate does not count: a DBA console, a monitoring agent, a pooler
    gate_ignore_applications: tuple[str, ...] = ()
    # how long the gate watches pg_stat_statements when no snapshot is old enough
    gate_window_s: float = Field(60.0, ge=0)
    # gate sources whose 'unavailable' does not block (e.g. statements without the extension)
    gate_allow_unavailable: tuple[Literal["sessions", "statements"], ...] = ()

    def with_overrides(self, **overrides: Any) -> Settings:
        data = self.model_dump(by_alias=True)
        data.update(
            {
                k if k != "schema_name" else "schema": v
                for k, v in overrides.items()
                if v is not None
            }
        )
        return _build(data, "command-line flags")


def _build(data: dict[str, Any], where: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        raise ConfigError(
            f"{where}: setting '{key}': {err['msg']}",
            "see docs/configuration.md for the accepted settings",
        ) from None


def _pyproject_table(path: Path) -> dict[str, Any]:
    table = zdmigrate_table(path)
    return {k.replace("-", "_"): v for k, v in table.items() if not isinstance(v, dict)}


def database_url_from_env() -> str | None:
    for var in URL_ENV_VARS:
        value = os.environ.get(var)
        if value:
            return value
    return None


def load_settings(pyproject: Path | None = None, **flags: Any) -> Settings:
    """Build the settings: pyproject, then env (database URL), then flags."""
    path = pyproject or find_pyproject()
    data: dict[str, Any] = _pyproject_table(path) if path else {}
    if "schema_name" in data:
        data["schema"] = data.pop("schema_name")
    base = _build(data, f"{path} [tool.zdmigrate]" if path else "settings")
    env_url = database_url_from_env()
    if env_url:
        base = base.with_overrides(database_url=env_url)
    for var, key in LIST_ENV.items():
        value = os.environ.get(var)
        if value:
            items = tuple(n.strip() for n in value.split(",") if n.strip())
            base = _build({**base.model_dump(by_alias=True), key: items}, var)
    return base.with_overrides(**flags)
