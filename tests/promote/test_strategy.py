"""Strategy parsing and weight schedules."""

from __future__ import annotations

import pytest
from fnkit_ops.promote.exceptions import StrategyParseError
from fnkit_ops.promote.strategy import StrategyKind, parse_strategy, remaining_steps


@pytest.mark.parametrize(
    ("text", "weights", "minutes"),
    [
        pytest.param("all-at-once", [], 0, id="all-at-once"),
        pytest.param("canary:10:5", [0.1], 5, id="canary"),
        pytest.param("Canary:2.5:15", [0.025], 15, id="canary-decimal"),
        pytest.param("linear:10:1", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], 1, id="linear-10"),
        pytest.param("linear:30:2", [0.3, 0.6, 0.9], 2, id="linear-30"),
        pytest.param("linear:25:1", [0.25, 0.5, 0.75], 1, id="linear-25-no-100-step"),
        pytest.param("linear:60:3", [0.6], 3, id="linear-60"),
    ],
)
def test_schedules(text: str, weights: list[float], minutes: int):
    # WHEN parsing
    strategy = parse_strategy(text)

    # THEN the weights are exact and strictly inside (0, 1); the final 100 % is not a step
    assert [s.weight for s in strategy.steps] == weights
    assert all(s.minutes == minutes for s in strategy.steps)
    assert strategy.total_minutes == minutes * len(weights)


def test_spec_round_trips():
    assert parse_strategy("linear:10:1").spec == "linear:10:1"
    assert parse_strategy("all-at-once").kind is StrategyKind.ALL_AT_ONCE


@pytest.mark.parametrize(
    "text", ["canary:10", "canary:0:1", "linear:100:1", "linear:10:0", "x", "canary:a:b"]
)
def test_bad_strings_raise(text: str):
    with pytest.raises(StrategyParseError):
        parse_strategy(text)


@pytest.mark.parametrize(
    ("text", "current", "weights"),
    [
        pytest.param("linear:25:1", 0.5, [0.5, 0.75], id="on-a-step"),
        pytest.param("linear:25:1", 0.4, [0.4, 0.5, 0.75], id="between-steps"),
        pytest.param("canary:10:5", 0.1, [0.1], id="canary"),
        pytest.param("canary:10:5", 0.0, [0.1], id="zero-weight-starts-over"),
        pytest.param("all-at-once", 0.3, [], id="all-at-once-just-switches"),
    ],
)
def test_remaining_steps_on_resume(text: str, current: float, weights: list[float]):
    assert [s.weight for s in remaining_steps(parse_strategy(text), current)] == weights
