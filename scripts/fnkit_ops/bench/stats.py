"""Summaries of timing samples: median and nearest-rank percentiles (no interpolation)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from fnkit_ops.bench.exceptions import BenchError


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

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> LatencyStats:
        return cls(
            runs=len(samples_ms),
            p50_ms=percentile(samples_ms, 50),
            p99_ms=percentile(samples_ms, 99),
            mean_ms=statistics.fmean(samples_ms),
        )


def median(samples: Sequence[float]) -> float:
    if not samples:
        raise BenchError("no samples to summarise")
    return statistics.median(samples)
