"""Run Steps: a short lock_timeout per transaction, retries with backoff and jitter.

The executor sends each step's statements as the plan lists them: its
``before`` statements (timeouts), its SQL, its ``after`` statements. A
transactional step commits together with its "done" mark and its audit row
(zdmigrate's own state), so a resumed command skips exactly what finished. A
step that cannot run in a transaction (CREATE INDEX CONCURRENTLY) is
idempotent instead: its cleanup drops an INVALID index left by an
interrupted build before it is built again.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors as pgerr

from zdmigrate.config import Settings
from zdmigrate.engine.db import translate_errors
from zdmigrate.engine.store import Store
from zdmigrate.errors import LockTimeout
from zdmigrate.model.step import Step

__all__ = ["Executor", "backoff_s"]

Conn = psycopg.Connection[Any]
Echo = Callable[[str], None]


def backoff_s(attempt: int) -> float:
    """How long to wait before retry ``attempt + 1``: exponential (50 ms doubling,
    capped at 2 s) with jitter, so retrying sessions do not line up behind a lock."""
    delay: float = min(0.05 * 2.0 ** (attempt - 1), 2.0) * random.uniform(0.5, 1.5)
    return delay


class Executor:
    def __init__(
        self, conn: Conn, settings: Settings, migration: str, command: str, echo: Echo
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.migration = migration
        self.command = command
        self.echo = echo
        self.store = Store(conn)
        self.done = self.store.done_steps(migration)

    def run_all(self, steps: list[Step]) -> int:
        return sum(self.run(s) for s in steps)

    def run(self, step: Step) -> bool:
        """Run ``step`` unless it is done; True if it ran."""
        if step.key in self.done:
            return False
        self.echo(f"{step.phase.value}: {step.description}")
        started = time.monotonic()
        with translate_errors(f"{self.migration}: {step.description}"):
            self._with_retries(step)
        self.done.add(step.key)
        self.echo(f"  done in {time.monotonic() - started:.2f} s")
        return True

    def _with_retries(self, step: Step) -> int:
        budget = self.settings.lock_retry_budget_s
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            t0 = time.monotonic()
            try:
                if step.transactional:
                    self._run_in_transaction(step, attempt, t0)
                else:
                    self._run_alone(step, attempt, t0)
                return attempt
            except (pgerr.LockNotAvailable, pgerr.DeadlockDetected):
                self._rollback_if_needed()
                waited = time.monotonic() - started
                if waited >= budget:
                    self._audit(step, "lock-timeout", attempt, started)
                    raise LockTimeout(step.description, attempt, waited) from None
                pause = backoff_s(attempt)
                time.sleep(min(pause, max(budget - waited, 0.0)))

    def _rollback_if_needed(self) -> None:
        if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.conn.rollback()

    def _run_in_transaction(self, step: Step, attempt: int, t0: float) -> None:
        with self.conn.transaction():
            for statement in step.statements:
                self.conn.execute(statement)
            self.store.mark_done(self.conn, self.migration, step.key)
            self._audit(step, "done", attempt, t0)

    def _run_alone(self, step: Step, attempt: int, t0: float) -> None:
        for statement in step.before:
            self.conn.execute(statement)
        try:
            self._cleanup(step, quiet=False)
            self.conn.execute(step.sql)
        except psycopg.Error:
            # a failed concurrent build leaves an INVALID index; if dropping it fails
            # too, the next run drops it before building again
            with contextlib.suppress(psycopg.Error):
                self._cleanup(step, quiet=True)
            raise
        finally:
            for statement in step.after:
                self.conn.execute(statement)
        with self.conn.transaction():
            self.store.mark_done(self.conn, self.migration, step.key)
            self._audit(step, "done", attempt, t0)

    def _cleanup(self, step: Step, quiet: bool) -> None:
        """The step's cleanup statement, when its check says it is needed."""
        if step.cleanup is None:
            return
        row = self.conn.execute(step.cleanup.check).fetchone()
        if row and row[0]:
            if not quiet:
                self.echo(f"  {step.cleanup.reason}")
            self.conn.execute(step.cleanup.statement)

    def _audit(self, step: Step, status: str, attempt: int, t0: float) -> None:
        self.store.audit(
            self.conn,
            migration=self.migration,
            command=self.command,
            step=step.key,
            phase=step.phase.value,
            sql=step.sql,
            status=status,
            duration_ms=(time.monotonic() - t0) * 1000,
            attempts=attempt,
        )
