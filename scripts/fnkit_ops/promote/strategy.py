"""Traffic-shifting strategies: parse `all-at-once`, `canary:P:M` and `linear:P:M` into a schedule.

A schedule is the list of routing steps *before* the final switch: each step sends `weight` of the
alias's traffic to the new version for `minutes`. The final switch (alias at the new version, no
routing) is not a step, so every step weight is strictly between 0 and 1, as Lambda requires.

- `all-at-once`: no steps; the alias moves straight to the new version.
- `canary:10:5`: one step, 10 % for 5 minutes, then 100 %.
- `linear:10:1`: 10 %, 20 %, ... 90 %, one minute each, then 100 %. `linear:30:2` → 30, 60, 90 %.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from fnkit_ops.promote.constants import MAX_STEP_MINUTES
from fnkit_ops.promote.exceptions import StrategyParseError

_SHAPED = re.compile(r"^(?P<kind>canary|linear):(?P<percent>\d+(?:\.\d{1,2})?):(?P<minutes>\d+)$")
_WEIGHT_DIGITS = 6


class StrategyKind(StrEnum):
    ALL_AT_ONCE = "all-at-once"
    CANARY = "canary"
    LINEAR = "linear"


def _check_minutes(minutes: int, what: str) -> None:
    """A step lasts 1..MAX_STEP_MINUTES whole minutes; `what` starts the error's message."""
    if not 1 <= minutes <= MAX_STEP_MINUTES:
        raise StrategyParseError(f"{what} minutes {minutes} must be 1..{MAX_STEP_MINUTES}")


@dataclass(frozen=True)
class Step:
    """Route `weight` (0 < weight < 1) of the alias's traffic to the new version for `minutes`."""

    weight: float
    minutes: int

    def __post_init__(self) -> None:
        if not 0.0 < self.weight < 1.0:
            raise StrategyParseError(f"step weight {self.weight} is outside (0, 1)")
        _check_minutes(self.minutes, "step")

    @property
    def seconds(self) -> float:
        return self.minutes * 60.0


@dataclass(frozen=True)
class Strategy:
    kind: StrategyKind
    percent: float = 0.0
    minutes: int = 0

    def __post_init__(self) -> None:
        if self.kind is StrategyKind.ALL_AT_ONCE:
            return
        if not 0.0 < self.percent < 100.0:
            raise StrategyParseError(f"{self.kind}: percent {self.percent:g} must be > 0 and < 100")
        _check_minutes(self.minutes, f"{self.kind}:")

    @property
    def spec(self) -> str:
        if self.kind is StrategyKind.ALL_AT_ONCE:
            return str(self.kind)
        return f"{self.kind}:{self.percent:g}:{self.minutes}"

    @property
    def steps(self) -> tuple[Step, ...]:
        if self.kind is StrategyKind.ALL_AT_ONCE:
            return ()
        if self.kind is StrategyKind.CANARY:
            return (Step(round(self.percent / 100.0, _WEIGHT_DIGITS), self.minutes),)
        count = math.ceil(100.0 / self.percent) - 1
        return tuple(
            Step(round(k * self.percent / 100.0, _WEIGHT_DIGITS), self.minutes) for k in range(1, count + 1)
        )

    @property
    def total_minutes(self) -> int:
        return sum(step.minutes for step in self.steps)


def parse_strategy(text: str) -> Strategy:
    """Parse a --strategy string; raise StrategyParseError with the accepted forms on any mistake."""
    cleaned = text.strip().lower()
    if cleaned == StrategyKind.ALL_AT_ONCE:
        return Strategy(StrategyKind.ALL_AT_ONCE)
    match = _SHAPED.match(cleaned)
    if match is None:
        raise StrategyParseError(
            f"bad strategy {text!r}: expected all-at-once, canary:PERCENT:MINUTES or "
            "linear:PERCENT:MINUTES (e.g. canary:10:5, linear:10:1)"
        )
    return Strategy(
        StrategyKind(match["kind"]), percent=float(match["percent"]), minutes=int(match["minutes"])
    )


def remaining_steps(strategy: Strategy, current_weight: float) -> tuple[Step, ...]:
    """Steps left when resuming at `current_weight`: bake at the current weight, then the heavier steps.

    The current weight is baked again for a full interval: how long it had already baked is unknown.
    A strategy without steps (all-at-once) has nothing left but the final switch.
    """
    steps = strategy.steps
    if not steps or current_weight <= 0.0:
        return steps
    heavier = tuple(step for step in steps if step.weight > current_weight + 1e-9)
    return (Step(round(current_weight, _WEIGHT_DIGITS), steps[0].minutes), *heavier)
