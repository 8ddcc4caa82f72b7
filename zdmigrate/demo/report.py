"""The demo's report: a markdown page and, with matplotlib (the ``report`` extra), a
timeline picture of requests/s, p99 latency and failures per version, phases marked."""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zdmigrate.demo.board import NEW_APP, OLD_APP, RunResult
from zdmigrate.demo.scenario import CHANGE, CHANGE_NAME, NAIVE
from zdmigrate.demo.traffic import Sample, p99

if TYPE_CHECKING:
    from zdmigrate.demo import DemoResult

__all__ = ["PICTURE_HINT", "ReportFiles", "Series", "series", "write_report"]

PICTURE_HINT = (
    "install matplotlib (pip install 'zdmigrate[report]', or -e '.[report]' in a clone) "
    "and run the demo again"
)
COLORS = {OLD_APP: "#d95f02", NEW_APP: "#1b6ac9"}
BUCKET_S = 0.5


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    picture: Path | None  # None: matplotlib is not installed


@dataclass(frozen=True)
class Series:
    """One version's figures per bucket of ``BUCKET_S`` seconds (times are bucket
    starts): requests/s that succeeded, p99 in ms (nan without requests), failed
    requests/s."""

    times: list[float]
    rate: list[float]
    p99_ms: list[float]
    failed: list[float]


def series(samples: list[Sample], version: str, end_s: float) -> Series:
    # whole buckets only: a last partial one would dip, and adding its requests to the
    # bucket before would show a rate the app never had
    count = max(int(end_s / BUCKET_S), 1)
    buckets: list[list[Sample]] = [[] for _ in range(count)]
    for s in samples:
        if s.version == version and int(s.t / BUCKET_S) < count:
            buckets[int(s.t / BUCKET_S)].append(s)
    return Series(
        times=[i * BUCKET_S for i in range(count)],
        rate=[sum(1 for s in b if not s.error) / BUCKET_S for b in buckets],
        p99_ms=[p99([s.latency for s in b]) * 1000 if b else math.nan for b in buckets],
        failed=[sum(1 for s in b if s.error) / BUCKET_S for b in buckets],
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def _comparison(result: DemoResult) -> list[str]:
    runs = result.runs
    head = "| | " + " | ".join(r.label for r in runs) + " |"
    rows = [
        ("failed requests", [f"{r.failed:,} of {r.requests:,}" for r in runs]),
        ("longest stall (a request's wait)", [_ms(r.longest_stall_s) for r in runs]),
        ("longest lock wait (sampled)", [_ms(r.longest_lock_wait_s) for r in runs]),
        ("time from the first statement to done", [f"{r.seconds:.1f} s" for r in runs]),
    ]
    lines = [head, "|---" * (len(runs) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(values) + " |" for name, values in rows]
    return lines


def _run_section(run: RunResult) -> list[str]:
    out = [f"## {run.label}", ""]
    if run.label != "zdmigrate":
        out += [
            "One transaction, as Alembic runs a revision on PostgreSQL:",
            "",
            "```sql",
            "BEGIN;",
            *[f"{statement};  -- {what}" for what, statement in NAIVE],
            "COMMIT;",
            "```",
            "",
        ]
    out += ["| version | requests | failed | p99 | longest |", "|---|---|---|---|---|"]
    for s in run.stats:
        errors = ", ".join(f"{n:,} {kind}" for kind, n in s.errors.items())
        failed = f"{s.failed:,}" + (f" ({errors})" if errors else "")
        out.append(
            f"| {s.version} | {s.requests:,} | {failed} | {_ms(s.p99_s)} | {_ms(s.longest_s)} |"
        )
    out += ["", "| at | phase |", "|---|---|"]
    out += [f"| {t:.1f} s | {phase} |" for t, phase in run.phases]
    if run.gate_blocked:
        out += ["", "The gate while the old app ran (`complete` refused):", ""]
        out += [f"- {line}" for line in run.gate_evidence]
        out += ["", f"The gate after the old app stopped: {run.gate_clear}."]
    if run.rows_verified:
        out += ["", f"Verified: {run.rows_verified:,} rows, {run.mismatched_rows} disagree."]
    out += ["", *[f"- {'ok' if ok else 'FAILED'}: {what}" for ok, what in run.checks], ""]
    return out


def markdown(result: DemoResult, picture: str | None) -> str:
    opts = result.options
    lines = [
        f"# zdmigrate demo: {opts.rows:,} rows under traffic",
        "",
        f"An old and a new app version each send {opts.rate:g} requests/s (reads, updates, "
        f"signups); the gate's window is {opts.window_s:g} s. The change, `{CHANGE_NAME}`:",
        "",
        "```yaml",
        CHANGE.strip(),
        "```",
        "",
    ]
    lines += [f"![timeline]({picture})", ""] if picture else [f"(No picture: {PICTURE_HINT}.)", ""]
    lines += [*_comparison(result), ""]
    for run in result.runs:
        lines += _run_section(run)
    return "\n".join(lines)


def write_report(result: DemoResult, folder: Path) -> ReportFiles:
    """``report.md`` and, when matplotlib is installed, ``timeline.png`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    picture: Path | None = folder / "timeline.png"
    try:
        timeline(result.runs, folder / "timeline.png")
    except ImportError:
        picture = None
    page = folder / "report.md"
    page.write_text(markdown(result, picture.name if picture else None))
    return ReportFiles(page, picture)


def timeline(runs: list[RunResult], path: Path) -> None:
    """Requests/s, p99 and failures per version over time, one column per run, phases
    marked; ImportError without matplotlib."""
    # the font cache is built on first use, with a log line the user did not ask for
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5 * len(runs), 7.5), layout="constrained")
        axes = fig.subplots(3, len(runs), sharey="row", squeeze=False)
        for col, run in enumerate(runs):
            _plot_run(run, [axes[row][col] for row in range(3)], first=col == 0)
        fig.savefig(path, dpi=110)
    finally:
        font_log.setLevel(level)


def _plot_run(run: RunResult, axes: list[Any], first: bool) -> None:
    rate_ax, p99_ax, failed_ax = axes
    for version in (OLD_APP, NEW_APP):
        s = series(run.samples, version, run.end_s)
        if not any(s.rate) and not any(s.failed):
            continue
        color = COLORS[version]
        rate_ax.step(s.times, s.rate, where="post", color=color, label=version)
        p99_ax.plot(s.times, s.p99_ms, color=color, marker=".", markersize=3, label=version)
        failed_ax.step(s.times, s.failed, where="post", color=color, label=version)
    title = f"{run.label}: {run.failed:,} failed, longest stall {_ms(run.longest_stall_s)}"
    rate_ax.set_title(title, fontsize=10)
    p99_ax.set_yscale("log")
    for ax, label in zip(
        axes, ("requests/s (succeeded)", "p99 latency (ms)", "failed requests/s"), strict=True
    ):
        _mark_phases(ax, run, label_them=ax is rate_ax)
        if first:
            ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.set_xlim(0, run.end_s)
    failed_ax.set_xlabel("seconds")
    rate_ax.legend(loc="lower left", fontsize=8)
    rate_ax.set_ylim(bottom=0)
    failed_ax.set_ylim(bottom=0, top=max(failed_ax.get_ylim()[1], 1.0))
    from matplotlib.ticker import FuncFormatter

    p99_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


# shaded: the naive run's transaction (everything waits), the gate blocked; until when
SHADED = {
    "alembic upgrade": ("#f4cccc", "new app deployed"),
    "gate: blocked": ("#fde9c9", "old app stopped"),
}


def _mark_phases(ax: Any, run: RunResult, label_them: bool) -> None:
    for i, (t, phase) in enumerate(run.phases):
        ax.axvline(t, color="#888888", linewidth=0.7, linestyle="--")
        if phase in SHADED:
            color, stop = SHADED[phase]
            until = next((u for u, p in run.phases[i + 1 :] if p == stop), run.end_s)
            ax.axvspan(t, until, color=color, alpha=0.6, linewidth=0)
        if label_them:
            with contextlib.suppress(ValueError):
                ax.text(
                    t,
                    1.0 - 0.1 * (i % 3),
                    f" {phase}",
                    transform=ax.get_xaxis_transform(),
                    fontsize=7,
                    va="top",
                    color="#444444",
                )
