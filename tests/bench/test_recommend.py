"""Recommendations: best for cost, best for latency, balanced — on hand-made estimates."""

from __future__ import annotations

import pytest
from fnkit_ops.bench.costmodel import SizeEstimate
from fnkit_ops.bench.exceptions import BenchConfigError
from fnkit_ops.bench.recommend import best_balanced, best_for_cost, best_for_latency, recommend


def est(
    memory_mb: int, ms: float, cost: float, *, feasible: bool = True, arch: str = "x86_64"
) -> SizeEstimate:
    return SizeEstimate(arch, memory_mb, 1, feasible, ms, ms * 10, ms, cost)


GRID = [
    est(128, 100.0, 2.0),
    est(512, 30.0, 1.0),
    est(1024, 12.0, 1.5),
    est(2048, 11.0, 3.0),
    est(4096, 10.95, 6.0),
]


def test_best_for_cost_is_the_cheapest() -> None:
    assert best_for_cost(GRID).memory_mb == 512


def test_best_for_cost_breaks_ties_on_latency() -> None:
    grid = [est(256, 50.0, 1.0), est(512, 20.0, 1.0)]
    assert best_for_cost(grid).memory_mb == 512


def test_best_for_latency_takes_the_cheapest_within_the_tolerance() -> None:
    # GIVEN 2048 and 4096 MB within 1 % of each other, 2048 cheaper
    # WHEN / THEN 2048 wins; with no tolerance the strictly fastest wins
    assert best_for_latency(GRID, tolerance=0.01).memory_mb == 2048
    assert best_for_latency(GRID, tolerance=0.0).memory_mb == 4096


def test_balanced_minimises_power_tunings_weighted_score() -> None:
    # GIVEN the score weight x cost/max cost + (1 - weight) x latency/max latency
    weight = 0.5
    max_cost = max(e.cost_per_million_usd for e in GRID)
    max_ms = max(e.expected_ms for e in GRID)

    def score(e: SizeEstimate) -> float:
        return weight * e.cost_per_million_usd / max_cost + (1 - weight) * e.expected_ms / max_ms

    # WHEN / THEN the recommendation is the argmin of that score
    assert best_balanced(GRID, weight).memory_mb == min(GRID, key=score).memory_mb


@pytest.mark.parametrize(
    ("weight", "expected"),
    [pytest.param(1.0, 512, id="cost only"), pytest.param(0.0, 4096, id="latency only")],
)
def test_balanced_extremes_match_the_single_goals(weight: float, expected: int) -> None:
    assert best_balanced(GRID, weight).memory_mb == expected


def test_infeasible_sizes_are_never_recommended() -> None:
    grid = [est(128, 100.0, 0.1, feasible=False), est(512, 30.0, 1.0)]
    assert best_for_cost(grid).memory_mb == 512


def test_no_feasible_size_is_an_error() -> None:
    with pytest.raises(BenchConfigError, match="peak memory"):
        best_for_cost([est(128, 1.0, 1.0, feasible=False)])


def test_recommend_gives_three_strategies_for_one_architecture() -> None:
    picks = recommend(GRID)
    assert {name: pick.estimate.memory_mb for name, pick in picks.items()} == {
        "cost": best_for_cost(GRID).memory_mb,
        "latency": best_for_latency(GRID).memory_mb,
        "balanced": best_balanced(GRID).memory_mb,
    }


def test_recommend_refuses_mixed_architectures() -> None:
    with pytest.raises(BenchConfigError, match="one architecture"):
        recommend([est(128, 1.0, 1.0), est(256, 1.0, 1.0, arch="arm64")])


def test_balanced_weight_outside_unit_interval_is_an_error() -> None:
    with pytest.raises(BenchConfigError):
        best_balanced(GRID, 1.5)
