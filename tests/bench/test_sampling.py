"""Adaptive sampling: the median's interval, the stopping rule, the CLI's choice, the import table."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import pytest
from fnkit_ops.bench import constants as k
from fnkit_ops.bench.cli import add_arguments, sampling_of
from fnkit_ops.bench.costmodel import SECONDS_PER_MONTH, snapstart_charges
from fnkit_ops.bench.importtime import STDLIB, self_times
from fnkit_ops.bench.prices import load_prices
from fnkit_ops.bench.sampling import Sampling, median_interval, relative_halfwidth


def test_the_median_interval_holds_the_median_and_narrows_with_samples() -> None:
    rng = random.Random(7)
    few = [rng.gauss(100, 10) for _ in range(10)]
    many = [rng.gauss(100, 10) for _ in range(1000)]
    for samples in (few, many):
        low, high = median_interval(samples)
        ordered = sorted(samples)
        assert low <= ordered[len(ordered) // 2] <= high
        assert low in samples and high in samples
    assert relative_halfwidth(many) < relative_halfwidth(few)
    # a handful of samples: the whole range
    assert median_interval([3.0, 1.0, 2.0]) == (1.0, 3.0)


@pytest.mark.parametrize(
    ("samples", "elapsed", "done"),
    [
        pytest.param([100.0] * 5, 0.1, False, id="below-min-runs"),
        pytest.param([100.0] * 6, 0.1, True, id="tight-interval"),
        pytest.param([50.0, 150.0] * 5, 0.1, False, id="wide-interval-within-budget"),
        pytest.param([50.0, 150.0], 11.0, False, id="budget-spent-below-floor"),
        pytest.param([50.0, 150.0, 90.0], 11.0, True, id="budget-spent"),
        pytest.param([50.0, 150.0] * 10, 0.1, True, id="max-runs"),
    ],
)
def test_a_cell_stops_by_interval_budget_or_count(samples: list[float], elapsed: float, done: bool) -> None:
    rule = Sampling(min_runs=6, max_runs=20, rel_halfwidth=0.05, budget_s=10.0, floor_runs=3)
    assert rule.done(samples, elapsed) is done


def test_fixed_sampling_takes_exactly_n() -> None:
    rule = Sampling.fixed(4)
    assert not rule.done([1.0] * 3, 1e9) and rule.done([1.0] * 4, 0.0)


@pytest.mark.parametrize(
    ("argv", "cold", "warm"),
    [
        pytest.param([], k.ADAPTIVE_COLD, k.ADAPTIVE_WARM, id="adaptive"),
        pytest.param(
            ["--full"], Sampling.fixed(k.DEFAULT_COLD_RUNS), Sampling.fixed(k.DEFAULT_WARM_RUNS), id="full"
        ),
        pytest.param(
            ["--quick"], Sampling.fixed(k.QUICK_COLD_RUNS), Sampling.fixed(k.QUICK_WARM_RUNS), id="quick"
        ),
        pytest.param(["--cold-runs", "3"], Sampling.fixed(3), k.ADAPTIVE_WARM, id="explicit-cold"),
    ],
)
def test_the_cli_picks_the_sampling(argv: list[str], cold: Sampling, warm: Sampling) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert sampling_of(parser.parse_args(["--out", "x", *argv])) == (cold, warm)


def test_import_self_times_are_summed_per_package_of_the_task_root(tmp_path: Path) -> None:
    # GIVEN a task root holding numpy and a handler module, and importtime lines (self | cumulative | name)
    (tmp_path / "numpy").mkdir()
    (tmp_path / "floor_handler.py").write_text("")
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |   json.decoder",
            "import time:      2000 |       2500 |     numpy._core",
            "import time:       500 |       3000 |   numpy",
            "import time:      9000 |      12000 | floor_handler",
        ]
    )
    # WHEN summed, THEN each package gets its modules' self time, the rest is the standard library
    assert self_times(stderr, tmp_path) == {STDLIB: 100, "numpy": 2500, "floor_handler": 9000}


def test_snapstart_charges_scale_with_memory() -> None:
    prices = load_prices()
    cache, restore, on_demand = snapstart_charges(2048, 500.0, prices, "x86_64")
    assert cache == pytest.approx(2 * SECONDS_PER_MONTH * prices.snapstart_cache_gb_second_usd)
    assert restore == pytest.approx(2 * prices.snapstart_restore_gb_usd * 1e6)
    price = prices.architectures["x86_64"]
    assert on_demand == pytest.approx((0.5 * 2 * price.gb_second_usd + price.request_usd) * 1e6)
