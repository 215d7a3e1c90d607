"""Adaptive sampling: how many timings a figure needs, and the 95 % interval of its median.

Standard library only: the warm-latency worker (`worker.py`) loads this file by path inside a task
root, where `fnkit_ops` is not importable, so both sides stop a cell by the same rule.

A cell (one variant's cold start, or one warm (threads, batch, handler|raw) figure) is sampled until
its median's 95 % interval lies within ±`rel_halfwidth` of the median (with at least `min_runs`),
or its time budget is spent (with at least `floor_runs`), or `max_runs` is reached. The interval is
distribution-free: the order statistics at ranks n/2 ∓ 0.98·√n (the normal approximation of the
binomial), so it needs no assumption about how timings are distributed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

_Z95_HALF = 1.959964 / 2


@dataclass(frozen=True)
class Sampling:
    min_runs: int
    """Runs before the interval may stop the cell."""
    max_runs: int
    rel_halfwidth: float
    """Stop once the median's 95 % interval is within ± this fraction of it (0: never early)."""
    budget_s: float
    """Time budget of the cell; spent, it stops once `floor_runs` are in."""
    floor_runs: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.floor_runs <= self.min_runs <= self.max_runs:
            raise ValueError(f"need 1 <= floor_runs <= min_runs <= max_runs: {self}")
        if self.rel_halfwidth < 0 or self.budget_s <= 0:
            raise ValueError(f"rel_halfwidth must be >= 0 and budget_s > 0: {self}")

    @classmethod
    def fixed(cls, runs: int) -> Sampling:
        """Exactly `runs` samples (`--full`, `--runs`, `--cold-runs`)."""
        return cls(runs, runs, 0.0, math.inf, runs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def done(self, samples: Sequence[float], elapsed_s: float) -> bool:
        n = len(samples)
        if n >= self.max_runs:
            return True
        if n >= self.floor_runs and elapsed_s >= self.budget_s:
            return True
        return (
            n >= self.min_runs
            and self.rel_halfwidth > 0
            and relative_halfwidth(samples) <= self.rel_halfwidth
        )


def median_interval(samples: Sequence[float]) -> tuple[float, float]:
    """The median's distribution-free 95 % interval (the whole range for very few samples)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    n = len(ordered)
    spread = _Z95_HALF * math.sqrt(n)
    low = max(0, math.floor(n / 2 - spread))
    high = min(n - 1, math.ceil(n / 2 + spread) - 1)
    return ordered[low], ordered[max(low, high)]


def relative_halfwidth(samples: Sequence[float]) -> float:
    """Half the median's 95 % interval, as a fraction of the median."""
    low, high = median_interval(samples)
    ordered = sorted(samples)
    mid = (
        ordered[len(ordered) // 2]
        if len(ordered) % 2
        else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    )
    return (high - low) / 2 / mid if mid > 0 else math.inf
