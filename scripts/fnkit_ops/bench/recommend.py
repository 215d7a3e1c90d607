"""Pick memory sizes from the cost model: best for cost, best for latency, and balanced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fnkit_ops.bench.constants import DEFAULT_BALANCED_WEIGHT, LATENCY_TIE_TOLERANCE
from fnkit_ops.bench.costmodel import SizeEstimate
from fnkit_ops.bench.exceptions import BenchConfigError

STRATEGIES = ("cost", "latency", "balanced")


@dataclass(frozen=True)
class Recommendation:
    strategy: str
    estimate: SizeEstimate


def _feasible(estimates: Sequence[SizeEstimate]) -> list[SizeEstimate]:
    feasible = [e for e in estimates if e.feasible]
    if not feasible:
        raise BenchConfigError("no memory size in the grid holds the function's measured peak memory")
    return feasible


def best_for_cost(estimates: Sequence[SizeEstimate]) -> SizeEstimate:
    """The cheapest per million requests; the faster one on a tie."""
    return min(_feasible(estimates), key=lambda e: (e.cost_per_million_usd, e.expected_ms, e.memory_mb))


def best_for_latency(
    estimates: Sequence[SizeEstimate], tolerance: float = LATENCY_TIE_TOLERANCE
) -> SizeEstimate:
    """The fastest expected latency; among sizes within `tolerance` of it, the cheapest."""
    feasible = _feasible(estimates)
    fastest = min(e.expected_ms for e in feasible)
    near = [e for e in feasible if e.expected_ms <= fastest * (1 + tolerance)]
    return min(near, key=lambda e: (e.cost_per_million_usd, e.memory_mb))


def best_balanced(estimates: Sequence[SizeEstimate], weight: float = DEFAULT_BALANCED_WEIGHT) -> SizeEstimate:
    """Power Tuning's balanced score: weight x cost/max cost + (1 - weight) x latency/max latency."""
    if not 0 <= weight <= 1:
        raise BenchConfigError(f"balanced weight must be within [0, 1], got {weight}")
    feasible = _feasible(estimates)
    max_cost = max(e.cost_per_million_usd for e in feasible) or 1.0
    max_ms = max(e.expected_ms for e in feasible) or 1.0

    def score(e: SizeEstimate) -> tuple[float, int]:
        value = weight * e.cost_per_million_usd / max_cost + (1 - weight) * e.expected_ms / max_ms
        return value, e.memory_mb

    return min(feasible, key=score)


def recommend(
    estimates: Sequence[SizeEstimate], weight: float = DEFAULT_BALANCED_WEIGHT
) -> dict[str, Recommendation]:
    """The three recommendations for one architecture's estimates."""
    archs = {e.architecture for e in estimates}
    if len(archs) != 1:
        raise BenchConfigError(f"recommend() takes one architecture's estimates, got {sorted(archs)}")
    return {
        "cost": Recommendation("cost", best_for_cost(estimates)),
        "latency": Recommendation("latency", best_for_latency(estimates)),
        "balanced": Recommendation("balanced", best_balanced(estimates, weight)),
    }
