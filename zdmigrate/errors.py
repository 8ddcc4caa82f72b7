"""The one error hierarchy of zdmigrate.

Every error a user can cause is a :class:`ZdmError`: a one-line message (what
and where) and a hint (how to fix). The CLI catches ``ZdmError`` and nothing
else, prints one line and exits with ``exit_code``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackfillError",
    "ConcurrentRunError",
    "ConfigError",
    "DatabaseError",
    "GateRefused",
    "LockTimeout",
    "MigrationEdited",
    "SpecError",
    "StateError",
    "VerifyMismatch",
    "ZdmError",
]


class ZdmError(Exception):
    """Root of every error zdmigrate reports to a user."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The single line shown to the user: message, then the hint."""
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message

    def to_json(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


class ConfigError(ZdmError):
    """Bad settings, flags or environment."""


class SpecError(ZdmError):
    """A migration file that cannot be loaded or does not validate."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        path: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.path = path
        self.line = line


class DatabaseError(ZdmError):
    """The database refused something, or cannot be reached."""


class StateError(ZdmError):
    """The migration is not in a phase that allows the command."""


class MigrationEdited(StateError):
    """A migration file changed after it was applied."""


class ConcurrentRunError(StateError):
    """Another zdmigrate process holds the migration or the table."""


class LockTimeout(DatabaseError):
    """A DDL step could not get its lock within the retry budget."""

    def __init__(self, step: str, attempts: int, waited_s: float) -> None:
        super().__init__(
            f"could not get the lock for step '{step}' after {attempts} attempts "
            f"({waited_s:.1f} s); nothing after that step was run",
            "find the session holding the lock in pg_locks/pg_stat_activity, or raise "
            "lock_retry_budget_s in [tool.zdmigrate] (apply also takes "
            "--lock-retry-budget-s), then run the command again",
        )
        self.step = step
        self.attempts = attempts
        self.waited_s = waited_s


class BackfillError(DatabaseError):
    """A backfill batch failed on data (e.g. the ``up`` expression raised)."""


class VerifyMismatch(ZdmError):
    """Rows whose old and new columns disagree after a backfill (a finding: exit 1)."""

    exit_code = 1

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(
            message,
            "inspect those rows; 'zdmigrate rollback NAME' undoes the migration, "
            "'zdmigrate verify NAME' checks again",
        )
        self.report = report


class GateRefused(ZdmError):
    """The contract gate found evidence that old code still uses what would be dropped."""

    exit_code = 1

    def __init__(self, message: str, report: Any = None) -> None:
        hint = report.hint() if report is not None else "deploy the new version everywhere"
        super().__init__(message, hint)
        self.report = report
