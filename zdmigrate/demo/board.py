"""The state of the run in progress, for a live view to poll, and each run's result."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from zdmigrate.demo.traffic import LockMonitor, Recorder, Sample, VersionStats

__all__ = ["Board", "LiveStatus", "LiveVersion", "RunResult"]

OLD_APP = "old app"
NEW_APP = "new app"


@dataclass(frozen=True)
class LiveVersion:
    version: str
    running: bool
    requests_per_s: float
    failed: int  # since the run started
    p99_s: float  # over the last 2 s


@dataclass(frozen=True)
class LiveStatus:
    run: str
    phase: str
    elapsed_s: float
    backfill: tuple[int, int | None] | None  # rows done, rows to do
    pace: str  # how the backfill's throttle paces it, and why
    versions: list[LiveVersion]
    longest_lock_wait_s: float
    lock_wait_now_s: float


@dataclass
class RunResult:
    """One run of the change under traffic: what each app version saw, the phases (time
    into the run, name) and, for zdmigrate, what the gate said and what was verified."""

    label: str
    rows: int
    seconds: float  # from the first statement of the change to its end
    stats: list[VersionStats]
    longest_lock_wait_s: float
    phases: list[tuple[float, str]]
    samples: list[Sample] = field(repr=False)
    end_s: float = 0.0  # when the run's traffic ended
    gate_blocked: str = ""  # one line: what blocked the gate while the old app ran
    gate_evidence: list[str] = field(default_factory=list)  # the gate's evidence, a line each
    gate_clear: str = ""
    completed: bool = False
    rows_verified: int = 0
    mismatched_rows: int = -1
    checks: list[tuple[bool, str]] = field(default_factory=list)  # (passed, what)

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.stats)

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.stats)

    @property
    def checks_passed(self) -> bool:
        return bool(self.checks) and all(ok for ok, _ in self.checks)

    @property
    def longest_stall_s(self) -> float:
        return max((s.longest_s for s in self.stats), default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.label,
            "rows": self.rows,
            "seconds": round(self.seconds, 2),
            "failed_requests": self.failed,
            "longest_stall_ms": round(self.longest_stall_s * 1000, 1),
            "longest_lock_wait_ms": round(self.longest_lock_wait_s * 1000, 1),
            "versions": [s.to_json() for s in self.stats],
            "phases": [{"at_s": round(t, 2), "phase": p} for t, p in self.phases],
            "gate_blocked": self.gate_blocked,
            "gate_evidence": self.gate_evidence,
            "gate_clear": self.gate_clear,
            "completed": self.completed,
            "rows_verified": self.rows_verified,
            "mismatched_rows": self.mismatched_rows,
            "checks": [{"passed": ok, "check": what} for ok, what in self.checks],
        }


class Board:
    """What is happening now: the run, its phase, the backfill, the apps' figures."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.run = ""
        self.phase = "starting"
        self.phases: list[tuple[float, str]] = []
        self.recorder: Recorder | None = None
        self.monitor: LockMonitor | None = None
        self.backfill: tuple[int, int | None] | None = None
        self.pace = ""
        self.running: dict[str, bool] = {}

    def begin(self, run: str, recorder: Recorder, monitor: LockMonitor) -> None:
        with self._lock:
            self.run, self.recorder, self.monitor = run, recorder, monitor
            self.phases, self.backfill, self.pace = [], None, ""
            self.running = {OLD_APP: False, NEW_APP: False}

    def set_phase(self, phase: str) -> None:
        with self._lock:
            self.phase = phase
            if self.recorder is not None:
                self.phases.append((self.recorder.now(), phase))

    def app(self, version: str, running: bool) -> None:
        self.running[version] = running

    def snapshot(self) -> LiveStatus:
        with self._lock:
            recorder, monitor = self.recorder, self.monitor
            versions = []
            for version, running in self.running.items():
                rate, _, p = recorder.recent(version, 2.0) if recorder else (0.0, 0, 0.0)
                failed = recorder.failures.get(version, 0) if recorder else 0
                versions.append(LiveVersion(version, running, rate, failed, p))
            return LiveStatus(
                self.run,
                self.phase,
                recorder.now() if recorder else 0.0,
                self.backfill,
                self.pace,
                versions,
                monitor.longest if monitor else 0.0,
                monitor.now if monitor else 0.0,
            )
