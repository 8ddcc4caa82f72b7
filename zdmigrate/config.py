"""Settings: ``[tool.zdmigrate]`` in pyproject.toml, then environment, then flags."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from zdmigrate._pyproject import find_pyproject, zdmigrate_table
from zdmigrate.errors import ConfigError

__all__ = [
    "BackfillSettings",
    "GatePolicy",
    "GateSettings",
    "Settings",
    "database_url_from_env",
    "duration_s",
    "find_pyproject",
    "load_settings",
]

URL_ENV_VARS = ("ZDMIGRATE_DATABASE_URL", "DATABASE_URL")
# list settings the environment may set (comma-separated), as a CI job or a test harness does
GATE_LIST_ENV = {
    "ZDMIGRATE_GATE_IGNORE_APPLICATIONS": "ignore_applications",
    "ZDMIGRATE_GATE_IGNORE_ROLES": "ignore_roles",
    "ZDMIGRATE_GATE_ALLOW_UNAVAILABLE": "allow_unavailable",
}
GateSource = Literal["backfill", "rows", "sessions", "statements", "writes", "code", "versions"]
ALWAYS_REQUIRED: tuple[GateSource, ...] = ("backfill", "rows")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def duration_s(value: str | float, where: str = "--window") -> float:
    """``30s``, ``10m``, ``1h`` or a plain number of seconds."""
    text = str(value).strip()
    number, unit = (text[:-1], text[-1]) if text and text[-1] in _UNITS else (text, "s")
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        raise ConfigError(
            f"{where}: '{value}' is not a duration", "give seconds or minutes: 30s, 10m"
        ) from None
    if seconds < 0:
        raise ConfigError(f"{where}: '{value}' is negative", "give 30s, 10m")
    return seconds


@dataclass(frozen=True)
class GatePolicy:
    """Which sources block: a required source that found something, or that could not
    look unless its ``unavailable`` is allowed. Others are reported, as warnings."""

    required: frozenset[str]
    allow_unavailable: frozenset[str] = frozenset()

    def blocks(self, source: str, verdict: str) -> bool:
        if source not in self.required:
            return False
        return verdict == "found" or (
            verdict == "unavailable" and source not in self.allow_unavailable
        )


class GateSettings(BaseModel):
    """``[tool.zdmigrate.gate]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # how long counters are watched when no earlier gate run is a window old
    window: float = Field(60.0, ge=0)
    # sources that must be clear; backfill and rows always are
    require: tuple[GateSource, ...] = ("sessions", "statements", "writes")
    # required sources whose 'unavailable' does not block (e.g. statements without the extension)
    allow_unavailable: tuple[GateSource, ...] = ()
    # sessions the gate does not count: a DBA console, a monitoring agent, a pooler
    ignore_applications: tuple[str, ...] = ()
    ignore_roles: tuple[str, ...] = ()

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            return duration_s(value, "[tool.zdmigrate.gate] window")
        raise ValueError("give a duration: 30s, 10m, or a number of seconds")

    def policy(self, code_given: bool) -> GatePolicy:
        required = set(self.require) | set(ALWAYS_REQUIRED)
        if code_given:
            required.add("code")
        return GatePolicy(frozenset(required), frozenset(self.allow_unavailable))


class BackfillSettings(BaseModel):
    """``[tool.zdmigrate.backfill]``: how the backfill shares the server with the app."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # how much slower the application may get, on average, while the backfill runs
    max_app_slowdown: float = Field(0.1, gt=0, le=10)
    # low: half the slowdown and at most half the time; normal: the budget; high: no throttle
    priority: Literal["low", "normal", "high"] = "normal"
    # this many other sessions at work at once stops the backfill until 'zdmigrate resume'
    critical_active_sessions: int = Field(0, ge=0)
    # blocks: heap block ranges (TID Range Scan); keys: the key in order (keyset pagination)
    walk: Literal["blocks", "keys"] = "blocks"
    # sessions a block walk may run batches on at once while no other session is at work
    # (or at priority high): one UPDATE runs on one core, so on an idle server more go faster
    max_sessions: int = Field(2, ge=1, le=16)


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
    gate: GateSettings = GateSettings()
    backfill: BackfillSettings = BackfillSettings()

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
    data = {k.replace("-", "_"): v for k, v in table.items() if not isinstance(v, dict)}
    for nested in ("gate", "backfill"):
        if isinstance(table.get(nested), dict):
            data[nested] = {k.replace("-", "_"): v for k, v in table[nested].items()}
    return data


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
    for var, key in GATE_LIST_ENV.items():
        value = os.environ.get(var)
        if value:
            items = tuple(n.strip() for n in value.split(",") if n.strip())
            data = base.model_dump(by_alias=True)
            data["gate"] = {**data["gate"], key: items}
            base = _build(data, var)
    window = os.environ.get("ZDMIGRATE_GATE_WINDOW")
    if window:
        data = base.model_dump(by_alias=True)
        data["gate"] = {**data["gate"], "window": window}
        base = _build(data, "ZDMIGRATE_GATE_WINDOW")
    return base.with_overrides(**flags)
