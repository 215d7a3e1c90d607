"""The memory/cost model: every expectation is computed from the model's stated formulas."""

from __future__ import annotations

import math

import pytest
from fnkit_ops.bench.costmodel import (
    Workload,
    cold_latency_ms,
    cpu_share,
    estimate,
    estimate_grid,
    invocation_cost_usd,
    parallel_fraction,
    warm_latency_ms,
)
from fnkit_ops.bench.exceptions import BenchConfigError
from fnkit_ops.bench.prices import ArchPrice, PriceTable
from fnkit_runtime.vocabulary import MAX_VCPUS, MB_PER_VCPU


@pytest.mark.parametrize(
    ("memory_mb", "expected"),
    [
        pytest.param(MB_PER_VCPU, 1.0, id="1769 MB is one vCPU"),
        pytest.param(MB_PER_VCPU // 2, (MB_PER_VCPU // 2) / MB_PER_VCPU, id="half"),
        pytest.param(2 * MB_PER_VCPU, 2.0, id="two"),
        pytest.param(10_240, min(MAX_VCPUS, 10_240 / MB_PER_VCPU), id="max"),
    ],
)
def test_cpu_share_follows_lambdas_mb_per_vcpu(memory_mb: int, expected: float) -> None:
    assert cpu_share(memory_mb) == pytest.approx(expected)


def test_cpu_share_never_exceeds_six() -> None:
    assert cpu_share(10_240 * 4) == MAX_VCPUS


@pytest.mark.parametrize(
    ("latencies", "expected"),
    [
        pytest.param({1: 10.0, 2: 5.0}, 1.0, id="perfect scaling"),
        pytest.param({1: 10.0, 2: 10.0}, 0.0, id="no scaling"),
        pytest.param({1: 10.0, 2: 7.5}, 2 * (1 - 7.5 / 10.0), id="half parallel"),
        pytest.param({1: 10.0, 2: 12.0}, 0.0, id="slower with threads clamps to 0"),
        pytest.param({1: 10.0}, 0.0, id="one point"),
    ],
)
def test_parallel_fraction(latencies: dict[int, float], expected: float) -> None:
    assert parallel_fraction(latencies) == pytest.approx(expected)


def test_parallel_fraction_is_least_squares_over_several_thread_counts() -> None:
    # GIVEN latencies from Amdahl with p = 0.6 at 2 and 4 threads
    p = 0.6
    latencies = {n: 10.0 * ((1 - p) + p / n) for n in (1, 2, 4)}
    # WHEN / THEN the fit recovers p
    assert parallel_fraction(latencies) == pytest.approx(p)


def test_warm_latency_below_one_vcpu_is_throttled_by_the_share() -> None:
    # GIVEN a workload measured at 1 and 2 threads
    workload = Workload({1: 10.0, 2: 6.0}, cold_ms=200.0, peak_memory_mb=80.0)
    # WHEN the function gets half a vCPU
    memory = MB_PER_VCPU // 2
    # THEN everything runs at that share
    assert warm_latency_ms(workload, memory, threads=1) == pytest.approx(10.0 / cpu_share(memory))


def test_warm_latency_uses_amdahl_between_measured_thread_counts() -> None:
    workload = Workload({1: 10.0, 2: 6.0}, cold_ms=200.0, peak_memory_mb=80.0)
    p = parallel_fraction(workload.warm_ms_by_threads)
    memory = 3008
    share = cpu_share(memory)
    assert warm_latency_ms(workload, memory, threads=2) == pytest.approx(10.0 * ((1 - p) + p / share))


def test_warm_latency_does_not_extrapolate_past_the_measured_threads() -> None:
    # GIVEN measurements up to 2 threads
    workload = Workload({1: 10.0, 2: 6.0}, cold_ms=200.0, peak_memory_mb=80.0)
    # WHEN the function has 6 vCPUs and 6 threads
    # THEN it is no faster than the measured 2 threads
    assert warm_latency_ms(workload, 10_240, threads=6) == pytest.approx(6.0)


def test_warm_latency_is_bounded_by_the_thread_count() -> None:
    workload = Workload({1: 10.0, 2: 6.0}, cold_ms=200.0, peak_memory_mb=80.0)
    assert warm_latency_ms(workload, 4 * MB_PER_VCPU, threads=1) == pytest.approx(10.0)


def test_cold_latency_stretches_startup_and_adds_a_warm_inference() -> None:
    workload = Workload({1: 10.0, 2: 6.0}, cold_ms=210.0, peak_memory_mb=80.0)
    memory = 512
    startup = 210.0 - 10.0
    expected = startup / cpu_share(memory) + warm_latency_ms(workload, memory, 1)
    assert cold_latency_ms(workload, memory, 1) == pytest.approx(expected)


def test_invocation_cost_rounds_duration_up_to_the_granularity() -> None:
    price = ArchPrice(gb_second_usd=0.00002, request_usd=0.0000002)
    # 2.1 ms at 1 ms granularity bills 3 ms
    expected = 3 / 1000 * (2048 / 1024) * 0.00002 + 0.0000002
    assert invocation_cost_usd(2.1, 2048, price, granularity_ms=1) == pytest.approx(expected)
    # 2.1 ms at 100 ms granularity bills 100 ms
    expected_100 = 100 / 1000 * 2 * 0.00002 + 0.0000002
    assert invocation_cost_usd(2.1, 2048, price, granularity_ms=100) == pytest.approx(expected_100)


def test_estimate_blends_warm_and_cold_by_the_cold_fraction(prices: PriceTable) -> None:
    # GIVEN a workload and a 10 % cold-start share
    workload = Workload({1: 10.0, 2: 6.0}, cold_ms=310.0, peak_memory_mb=80.0)
    fraction = 0.1
    # WHEN one size is estimated on arm64 (relative latency 1.5 in the fixture table)
    result = estimate(workload, 1024, "arm64", prices, cold_fraction=fraction)
    # THEN latency and cost blend warm and cold invocations, scaled by the architecture's speed
    price = prices.architectures["arm64"]
    warm = warm_latency_ms(workload, 1024, result.threads) * 1.5
    cold = cold_latency_ms(workload, 1024, result.threads) * 1.5
    assert result.warm_ms == pytest.approx(warm)
    assert result.cold_ms == pytest.approx(cold)
    assert result.expected_ms == pytest.approx(0.9 * warm + 0.1 * cold)
    per_request = 0.9 * invocation_cost_usd(warm, 1024, price, 1) + 0.1 * invocation_cost_usd(
        cold, 1024, price, 1
    )
    assert result.cost_per_million_usd == pytest.approx(per_request * 1e6)


def test_estimate_marks_sizes_below_peak_memory_infeasible(prices: PriceTable) -> None:
    workload = Workload({1: 10.0}, cold_ms=300.0, peak_memory_mb=200.0)
    assert not estimate(workload, 128, "x86_64", prices, cold_fraction=0.0).feasible
    assert estimate(workload, 512, "x86_64", prices, cold_fraction=0.0).feasible


def test_estimate_uses_the_functions_thread_rule(prices: PriceTable) -> None:
    workload = Workload({1: 10.0, 2: 6.0}, cold_ms=300.0, peak_memory_mb=50.0)
    result = estimate(workload, 3008, "x86_64", prices, cold_fraction=0.0, thread_rule=lambda mb: 1)
    assert result.threads == 1
    assert result.warm_ms == pytest.approx(10.0)


def test_estimate_grid_covers_every_architecture_and_size(prices: PriceTable) -> None:
    workload = Workload({1: 10.0, 2: 6.0}, cold_ms=300.0, peak_memory_mb=50.0)
    grid = estimate_grid(workload, [128, 1024, 10_240], prices, cold_fraction=0.01)
    assert {(e.architecture, e.memory_mb) for e in grid} == {
        (arch, size) for arch in ("x86_64", "arm64") for size in (128, 1024, 10_240)
    }


@pytest.mark.parametrize(
    ("sizes", "fraction"),
    [
        pytest.param([64], 0.0, id="size below 128"),
        pytest.param([20_000], 0.0, id="size above 10240"),
        pytest.param([1024], 1.5, id="fraction above 1"),
        pytest.param([1024], -0.1, id="negative fraction"),
    ],
)
def test_estimate_grid_rejects_bad_inputs(prices: PriceTable, sizes: list[int], fraction: float) -> None:
    workload = Workload({1: 10.0}, cold_ms=300.0, peak_memory_mb=50.0)
    with pytest.raises(BenchConfigError):
        estimate_grid(workload, sizes, prices, cold_fraction=fraction)


def test_workload_needs_the_one_thread_latency() -> None:
    with pytest.raises(BenchConfigError, match="1 thread"):
        Workload({2: 5.0}, cold_ms=100.0, peak_memory_mb=10.0)


def test_cost_falls_then_rises_for_a_cpu_bound_function(prices: PriceTable) -> None:
    # GIVEN a CPU-bound function (latency inversely proportional to the share below 1 vCPU)
    workload = Workload({1: 100.0, 2: 100.0}, cold_ms=100.0, peak_memory_mb=50.0)
    estimates = estimate_grid(workload, [128, 1769, 10_240], prices, cold_fraction=0.0)
    grid = {e.memory_mb: e for e in estimates if e.architecture == "x86_64"}
    # THEN below 1 vCPU the GB-seconds stay flat (within rounding) and above it they grow with memory
    gb_s_small = math.ceil(100.0 / cpu_share(128)) / 1000 * 128 / 1024
    gb_s_one = 100 / 1000 * 1769 / 1024
    assert gb_s_small == pytest.approx(gb_s_one, rel=0.01)
    assert grid[10_240].cost_per_million_usd > grid[1769].cost_per_million_usd
