"""Adaptive batch sizing, without a server: batches converge to the target time."""

from __future__ import annotations

import itertools

from zdmigrate.config import Settings
from zdmigrate.engine.backfill import BatchSizer


def _run(sizer: BatchSizer, cost_per_row: float, batches: int) -> list[int]:
    sizes = []
    for _ in range(batches):
        sizes.append(sizer.size)
        sizer.observe(sizer.size, sizer.size * cost_per_row)
    return sizes


def test_grows_slowly_to_the_target() -> None:
    sizer = BatchSizer(Settings(batch_size=1000, target_batch_ms=100, max_batch_size=1_000_000))
    sizes = _run(sizer, cost_per_row=0.00001, batches=30)  # 10 us/row: target is 10,000 rows
    assert all(b <= a * 1.5 + 1 for a, b in itertools.pairwise(sizes))
    assert 9_000 <= sizes[-1] <= 11_000


def test_cuts_sharply_when_a_batch_runs_far_over() -> None:
    sizer = BatchSizer(Settings(batch_size=10_000, target_batch_ms=100))
    sizer.observe(10_000, 1.0)  # ten times the target
    assert sizer.size <= 2_500
    _run(sizer, cost_per_row=0.0001, batches=20)  # now 100 us/row: target is 1,000 rows
    assert 900 <= sizer.size <= 1_100


def test_stays_within_bounds() -> None:
    sizer = BatchSizer(Settings(batch_size=500, min_batch_size=200, max_batch_size=800))
    _run(sizer, cost_per_row=1e-9, batches=20)
    assert sizer.size == 800
    _run(sizer, cost_per_row=1.0, batches=5)
    assert sizer.size == 200


def test_a_short_last_batch_does_not_resize() -> None:
    sizer = BatchSizer(Settings(batch_size=1000, target_batch_ms=100))
    sizer.observe(10, 0.5)
    assert sizer.size == 1000
