"""From measured variants to memory-size recommendations, per architecture of the price table."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fnkit_ops.bench.constants import MEMORY_SIZES_MB, VARIANT_SHIPPED
from fnkit_ops.bench.costmodel import Workload, estimate_grid, snapstart_charges
from fnkit_ops.bench.prices import PriceTable
from fnkit_ops.bench.recommend import recommend
from fnkit_ops.bench.results import MemoryChoice, SnapStartCost, VariantResult


def workload_of(result: VariantResult) -> Workload | None:
    """The warm p50 (batch 1, through the handler) per thread count, cold start and peak memory."""
    by_threads = {w.threads: w.handler.p50_ms for w in result.warm if w.batch == 1}
    if result.cold is None or 1 not in by_threads:
        return None
    return Workload(by_threads, result.cold.total_ms, result.peak_memory_mb)


def memory_choices(
    results: list[VariantResult], prices: PriceTable, cold_fraction: float
) -> list[MemoryChoice]:
    """Best for cost, latency and balanced, for every measured variant and architecture."""
    choices = []
    for result in results:
        workload = workload_of(result)
        if workload is None:
            continue
        estimates = estimate_grid(workload, MEMORY_SIZES_MB, prices, cold_fraction)
        for arch in prices.architectures:
            picks = recommend([e for e in estimates if e.architecture == arch])
            for strategy, pick in picks.items():
                e = pick.estimate
                choices.append(
                    MemoryChoice(
                        variant=result.variant,
                        architecture=arch,
                        strategy=strategy,
                        memory_mb=e.memory_mb,
                        threads=e.threads,
                        expected_ms=e.expected_ms,
                        warm_ms=e.warm_ms,
                        cold_ms=e.cold_ms,
                        cost_per_million_usd=e.cost_per_million_usd,
                    )
                )
    return choices


def memory_grid(result: VariantResult, prices: PriceTable, cold_fraction: float) -> list[dict[str, Any]]:
    """Every estimate for one variant (bench.json keeps them for the shipped variant)."""
    workload = workload_of(result)
    if workload is None:
        return []
    return [asdict(e) for e in estimate_grid(workload, MEMORY_SIZES_MB, prices, cold_fraction)]


def snapstart_costs(
    results: list[VariantResult], choices: list[MemoryChoice], prices: PriceTable
) -> list[SnapStartCost]:
    """SnapStart's charges for the shipped variant at each architecture's balanced memory size."""
    if not any(r.variant == VARIANT_SHIPPED for r in results):
        return []
    costs = []
    for choice in choices:
        if choice.variant != VARIANT_SHIPPED or choice.strategy != "balanced":
            continue
        cache, restore, on_demand = snapstart_charges(
            choice.memory_mb, choice.cold_ms, prices, choice.architecture
        )
        costs.append(SnapStartCost(choice.architecture, choice.memory_mb, cache, restore, on_demand))
    return costs
