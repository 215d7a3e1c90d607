"""Summaries of timing samples: median and nearest-rank percentiles (no interpolation)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from fnkit_ops.bench.exceptions import BenchError
from fnkit_ops.bench.sampling import median_interval


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least q % of samples at or below it."""
    if not samples:
        raise BenchError("no samples to summarise")
    if not 0 < q <= 100:
        raise BenchError(f"percentile {q} is outside (0, 100]")
    ordered = sorted(samples)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[rank - 1]


@dataclass(frozen=True)
class LatencyStats:
    runs: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    p50_low_ms: float = 0.0
    """The median's distribution-free 95 % interval (`sampling.median_interval`)."""
    p50_high_ms: float = 0.0

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> LatencyStats:
        low, high = median_interval(samples_ms) if samples_ms else (0.0, 0.0)
        return cls(
            runs=len(samples_ms),
            p50_ms=percentile(samples_ms, 50),
            p99_ms=percentile(samples_ms, 99),
            mean_ms=statistics.fmean(samples_ms),
            p50_low_ms=low,
            p50_high_ms=high,
        )

    @property
    def p50_halfwidth(self) -> float:
        """Half the median's interval, as a fraction of the median."""
        return (self.p50_high_ms - self.p50_low_ms) / 2 / self.p50_ms if self.p50_ms > 0 else 0.0


def median(samples: Sequence[float]) -> float:
    if not samples:
        raise BenchError("no samples to summarise")
    return statistics.median(samples)
