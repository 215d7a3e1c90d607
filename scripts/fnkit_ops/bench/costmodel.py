"""Latency and cost of one variant at each Lambda memory size, extrapolated from measured figures.

The model, stated once (docs/performance.md repeats it):

- CPU share: Lambda gives `memory / 1769` vCPUs, at most 6 (AWS documentation).
- Warm latency: Amdahl's law fitted to the warm p50 measured at 1..N threads. The parallel fraction
  `p` is the least-squares fit of `1 - L(n)/L(1) = p (1 - 1/n)`. With `c` vCPUs and `t` threads (the
  handler's own thread rule) the latency is `L(1) * ((1 - p) / min(1, c) + p / min(t, c, N))`: below
  one vCPU everything is throttled to the share; parallel speed-up never exceeds the thread count, the
  share, or the largest thread count measured (no extrapolation past what was measured).
- Cold start: the measured cold start minus the warm latency is start-up work (imports, session
  creation), taken as single-threaded, so it stretches by `1 / min(1, c)`; the first inference itself
  costs a warm latency at that size.
- Billing: duration rounded up to the billing granularity, times memory in GB, times the price per
  GB-second, plus the per-request price. Cold invocations are billed for their init phase too (on-demand
  Lambda bills INIT since August 2025).
- Expected latency and cost blend warm and cold invocations by the cold-start fraction, which Lambda
  Power Tuning leaves out.
- SnapStart (Python) adds two charges and removes the on-demand init: caching each published
  version's snapshot (GB of memory x seconds it is active) and each restore (GB of memory). The restore
  latency itself cannot be measured locally (no snapshot is taken), so the model reports the charges
  beside what on-demand cold starts are billed, not a latency.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fnkit_runtime.config import threads_for_memory
from fnkit_runtime.vocabulary import MAX_VCPUS, MB_PER_VCPU, MEMORY_RANGE, memory_in_range

from fnkit_ops.bench.constants import MEMORY_HEADROOM
from fnkit_ops.bench.exceptions import BenchConfigError
from fnkit_ops.bench.prices import ArchPrice, PriceTable

ThreadRule = Callable[[int], int]
"""Memory size in MB -> intra-op threads the function uses at that size."""


def cpu_share(memory_mb: int) -> float:
    """vCPUs Lambda gives a function of this memory size (1769 MB = 1 vCPU, at most 6)."""
    return min(float(MAX_VCPUS), memory_mb / MB_PER_VCPU)


def default_threads(memory_mb: int) -> int:
    """The function's own thread rule (`fnkit_runtime.config.threads_for_memory`)."""
    return threads_for_memory(memory_mb)


@dataclass(frozen=True)
class Workload:
    """The measured figures of one variant that the model extrapolates from."""

    warm_ms_by_threads: Mapping[int, float]
    """Warm end-to-end p50 at batch 1, keyed by intra-op thread count; must include 1."""
    cold_ms: float
    """Median cold start on the bench machine: fresh process to first response."""
    peak_memory_mb: float

    def __post_init__(self) -> None:
        if 1 not in self.warm_ms_by_threads:
            raise BenchConfigError("the memory model needs the warm latency at 1 thread")
        if any(n < 1 or ms <= 0 for n, ms in self.warm_ms_by_threads.items()):
            raise BenchConfigError(f"thread counts and latencies must be positive: {self.warm_ms_by_threads}")
        if self.cold_ms < 0 or self.peak_memory_mb < 0:
            raise BenchConfigError("cold start and peak memory must not be negative")

    @property
    def max_threads(self) -> int:
        return max(self.warm_ms_by_threads)


def parallel_fraction(warm_ms_by_threads: Mapping[int, float]) -> float:
    """Amdahl's parallel fraction, least-squares fitted and clamped to [0, 1]."""
    base = warm_ms_by_threads[1]
    points = [(1 - 1 / n, 1 - ms / base) for n, ms in warm_ms_by_threads.items() if n > 1]
    denominator = sum(x * x for x, _ in points)
    if denominator == 0:
        return 0.0
    fitted = sum(x * y for x, y in points) / denominator
    return min(1.0, max(0.0, fitted))


def warm_latency_ms(workload: Workload, memory_mb: int, threads: int) -> float:
    """Estimated warm latency at a memory size and thread count (bench-machine speed)."""
    share = cpu_share(memory_mb)
    p = parallel_fraction(workload.warm_ms_by_threads)
    parallel = min(float(max(1, threads)), share, float(workload.max_threads))
    return workload.warm_ms_by_threads[1] * ((1 - p) / min(1.0, share) + p / parallel)


def cold_latency_ms(workload: Workload, memory_mb: int, threads: int) -> float:
    """Estimated cold start: single-threaded start-up work plus a first inference."""
    startup = max(0.0, workload.cold_ms - workload.warm_ms_by_threads[1])
    return startup / min(1.0, cpu_share(memory_mb)) + warm_latency_ms(workload, memory_mb, threads)


def invocation_cost_usd(duration_ms: float, memory_mb: int, price: ArchPrice, granularity_ms: int) -> float:
    """What one invocation costs: billed duration x GB x price per GB-second, plus the request price."""
    billed_ms = math.ceil(duration_ms / granularity_ms) * granularity_ms
    return billed_ms / 1000 * (memory_mb / 1024) * price.gb_second_usd + price.request_usd


@dataclass(frozen=True)
class SizeEstimate:
    """The model's estimate for one (architecture, memory size)."""

    architecture: str
    memory_mb: int
    threads: int
    feasible: bool
    """False when the size is below the measured peak memory times the headroom."""
    warm_ms: float
    cold_ms: float
    expected_ms: float
    cost_per_million_usd: float


def estimate(
    workload: Workload,
    memory_mb: int,
    architecture: str,
    prices: PriceTable,
    *,
    cold_fraction: float,
    thread_rule: ThreadRule = default_threads,
) -> SizeEstimate:
    price = prices.architectures[architecture]
    threads = thread_rule(memory_mb)
    warm = warm_latency_ms(workload, memory_mb, threads) * price.relative_latency
    cold = cold_latency_ms(workload, memory_mb, threads) * price.relative_latency
    gran = prices.billing_granularity_ms
    cost = (1 - cold_fraction) * invocation_cost_usd(warm, memory_mb, price, gran) + (
        cold_fraction * invocation_cost_usd(cold, memory_mb, price, gran)
    )
    return SizeEstimate(
        architecture=architecture,
        memory_mb=memory_mb,
        threads=threads,
        feasible=memory_mb >= workload.peak_memory_mb * MEMORY_HEADROOM,
        warm_ms=warm,
        cold_ms=cold,
        expected_ms=(1 - cold_fraction) * warm + cold_fraction * cold,
        cost_per_million_usd=cost * 1_000_000,
    )


def estimate_grid(
    workload: Workload,
    memory_sizes: Sequence[int],
    prices: PriceTable,
    cold_fraction: float,
    thread_rule: ThreadRule = default_threads,
) -> list[SizeEstimate]:
    """Every (architecture, memory size) of the price table and the grid."""
    if not 0 <= cold_fraction <= 1:
        raise BenchConfigError(f"cold-start fraction must be within [0, 1], got {cold_fraction}")
    for size in memory_sizes:
        if not memory_in_range(size):
            raise BenchConfigError(f"memory size {size} is outside {MEMORY_RANGE}")
    return [
        estimate(workload, size, arch, prices, cold_fraction=cold_fraction, thread_rule=thread_rule)
        for arch in prices.architectures
        for size in memory_sizes
    ]


SECONDS_PER_MONTH = 30 * 24 * 3600


def snapstart_charges(
    memory_mb: int, cold_ms: float, prices: PriceTable, architecture: str
) -> tuple[float, float, float]:
    """(cache $ per version-month, restore $ per million restores, on-demand cold $ per million).

    The last is one million cold invocations billed for the estimated cold start (init included);
    a restored environment skips that init but pays the restore charge, its restore duration and hooks.
    """
    gb = memory_mb / 1024
    cache = gb * SECONDS_PER_MONTH * prices.snapstart_cache_gb_second_usd
    restore = gb * prices.snapstart_restore_gb_usd * 1_000_000
    price = prices.architectures[architecture]
    on_demand = invocation_cost_usd(cold_ms, memory_mb, price, prices.billing_granularity_ms) * 1_000_000
    return cache, restore, on_demand
