"""Run Steps: a short lock_timeout per transaction, retries with backoff and jitter.

A transactional step commits together with its "done" mark and its audit
row, so a resumed command skips exactly what finished. A step that cannot
run in a transaction (CREATE INDEX CONCURRENTLY) is idempotent instead: an
INVALID index left by an interrupted build is dropped and built again.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors as pgerr
from psycopg import sql

from zdmigrate.config import Settings
from zdmigrate.engine.db import translate_errors
from zdmigrate.engine.store import Store
from zdmigrate.errors import LockTimeout
from zdmigrate.plan.step import Step

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
        self.schema = settings.schema_name

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

    def _timeouts(self, local: bool) -> None:
        scope = "true" if local else "false"
        self.conn.execute(
            f"SELECT set_config('lock_timeout', %s, {scope}), "
            f"set_config('statement_timeout', %s, {scope})",
            (f"{self.settings.lock_timeout_ms}ms", f"{self.settings.statement_timeout_ms}ms"),
        )

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
            self._timeouts(local=True)
            self.conn.execute(step.sql)
            self.store.mark_done(self.conn, self.migration, step.key)
            self._audit(step, "done", attempt, t0)

    def _run_alone(self, step: Step, attempt: int, t0: float) -> None:
        self._timeouts(local=False)
        index = next((n[6:] for n in step.notes if n.startswith("index:")), None)
        try:
            if index is not None:
                self._drop_invalid_index(index)
            self.conn.execute(step.sql)
        except psycopg.Error:
            if index is not None:  # a failed concurrent build leaves an INVALID index
                self._drop_failed_index(index)
            raise
        finally:
            self.conn.execute("RESET lock_timeout; RESET statement_timeout")
        with self.conn.transaction():
            self.store.mark_done(self.conn, self.migration, step.key)
            self._audit(step, "done", attempt, t0)

    def _drop_failed_index(self, name: str) -> None:
        # if this fails too, the next run drops the INVALID index before building again
        with contextlib.suppress(psycopg.Error):
            self._drop_invalid_index(name, quiet=True)

    def _drop_invalid_index(self, name: str, quiet: bool = False) -> None:
        row = self.conn.execute(
            "SELECT NOT x.indisvalid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_namespace n ON n.oid = i.relnamespace WHERE n.nspname = %s AND i.relname = %s",
            (self.schema, name),
        ).fetchone()
        if row and row[0]:
            if not quiet:
                self.echo(f"  index {name} was left INVALID by an interrupted build: rebuilding it")
            self.conn.execute(
                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                    sql.Identifier(self.schema, name)
                )
            )

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
