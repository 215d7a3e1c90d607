"""Gates: CloudWatch alarms and the new version's own health, judged at each poll of a step.

A reading is PASS, WAIT (not enough evidence yet: keep polling) or FAIL (roll back now). At the end
of a step's interval (`final=True`) WAIT is no longer possible: it resolves by the stated policies.

Alarms (describe_alarms):
- ALARM fails at once.
- INSUFFICIENT_DATA follows `--insufficient-data`: `fail` fails at once; `wait` keeps polling and
  fails if still insufficient when the step's time is up; `ignore` treats it as OK.

Health of the new version alone (ExecutedVersion metrics, see metrics.py):
- Fewer than `min_invocations` → WAIT; at the end of the step `--insufficient-traffic` decides
  (`fail` by default: a canary that received no traffic proved nothing).
- Otherwise FAIL at once when the error rate exceeds `max_error_rate`, or exceeds the old version's
  rate in the same window by more than `max_error_rate_delta`, or p99 Duration exceeds `max_p99_ms`,
  or `max_p99_ratio` times the old version's p99. Comparisons with the old version are made only
  when the old version also has `min_invocations` in the window.
- A version's errors are Lambda's Errors, plus the function's EMF ServerErrors (5xx answers) when
  `emf` says where they are (`--emf-namespace/--emf-service/--emf-model`): without it, a version
  that answers 500 to every request looks healthy, since the handler catches every exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fnkit_ops.promote.constants import (
    DEFAULT_MAX_ERROR_RATE,
    DEFAULT_MAX_ERROR_RATE_DELTA,
    DEFAULT_MAX_P99_RATIO,
    DEFAULT_MIN_INVOCATIONS,
)
from fnkit_ops.promote.exceptions import AlarmNotFoundError, PromoteUsageError
from fnkit_ops.promote.metrics import CloudWatchClient, EmfErrorSource, VersionMetrics


class Verdict(StrEnum):
    PASS = "pass"
    WAIT = "wait"
    FAIL = "fail"


class InsufficientDataPolicy(StrEnum):
    """What an alarm in INSUFFICIENT_DATA means for a step."""

    FAIL = "fail"
    WAIT = "wait"
    IGNORE = "ignore"


class InsufficientTrafficPolicy(StrEnum):
    """What a step whose new version saw fewer than min_invocations means when its time is up."""

    FAIL = "fail"
    PASS = "pass"


ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class GateConfig:
    alarms: tuple[str, ...] = ()
    insufficient_data: InsufficientDataPolicy = InsufficientDataPolicy.WAIT
    min_invocations: int = DEFAULT_MIN_INVOCATIONS
    insufficient_traffic: InsufficientTrafficPolicy = InsufficientTrafficPolicy.FAIL
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    max_error_rate_delta: float | None = DEFAULT_MAX_ERROR_RATE_DELTA
    max_p99_ms: float | None = None
    max_p99_ratio: float | None = DEFAULT_MAX_P99_RATIO
    emf: EmfErrorSource | None = None
    """Where the function's EMF ServerErrors are; None = judge Lambda's Errors alone."""

    def __post_init__(self) -> None:
        if self.min_invocations < 1:
            raise PromoteUsageError(f"--min-invocations {self.min_invocations} must be at least 1")
        if not 0.0 <= self.max_error_rate <= 1.0:
            raise PromoteUsageError(f"--max-error-rate {self.max_error_rate} must be within [0, 1]")
        if self.max_error_rate_delta is not None and not 0.0 <= self.max_error_rate_delta <= 1.0:
            raise PromoteUsageError(f"--max-error-rate-delta {self.max_error_rate_delta} must be in [0, 1]")
        if self.max_p99_ms is not None and self.max_p99_ms <= 0:
            raise PromoteUsageError(f"--max-p99-ms {self.max_p99_ms} must be positive")
        if self.max_p99_ratio is not None and self.max_p99_ratio < 1.0:
            raise PromoteUsageError(f"--max-p99-ratio {self.max_p99_ratio} must be at least 1")
        if len(set(self.alarms)) != len(self.alarms):
            raise PromoteUsageError("an --alarm is named twice")

    @property
    def with_latency(self) -> bool:
        return self.max_p99_ms is not None or self.max_p99_ratio is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alarms": list(self.alarms),
            "insufficient_data": str(self.insufficient_data),
            "min_invocations": self.min_invocations,
            "insufficient_traffic": str(self.insufficient_traffic),
            "max_error_rate": self.max_error_rate,
            "max_error_rate_delta": self.max_error_rate_delta,
            "max_p99_ms": self.max_p99_ms,
            "max_p99_ratio": self.max_p99_ratio,
            "emf_server_errors": self.emf.to_dict() if self.emf else None,
        }


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    reasons: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


def combine(*results: GateResult) -> GateResult:
    """FAIL beats WAIT beats PASS; reasons of the deciding results are kept."""
    for verdict in (Verdict.FAIL, Verdict.WAIT):
        deciding = [r for r in results if r.verdict is verdict]
        if deciding:
            return GateResult(verdict, tuple(reason for r in deciding for reason in r.reasons))
    return GateResult(Verdict.PASS, tuple(reason for r in results for reason in r.reasons))


# --- alarms --------------------------------------------------------------------------------------


def read_alarms(cloudwatch: CloudWatchClient, names: Sequence[str]) -> dict[str, str]:
    """Alarm name → state (OK | ALARM | INSUFFICIENT_DATA); AlarmNotFoundError for a missing name."""
    if not names:
        return {}
    states: dict[str, str] = {}
    paginator = cloudwatch.get_paginator("describe_alarms")
    pages = paginator.paginate(AlarmNames=list(names), AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    for page in pages:
        for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
            states[alarm["AlarmName"]] = alarm["StateValue"]
    missing = [name for name in names if name not in states]
    if missing:
        raise AlarmNotFoundError(f"alarm(s) not found: {', '.join(missing)}")
    return states


def judge_alarms(states: dict[str, str], policy: InsufficientDataPolicy, final: bool) -> GateResult:
    firing = sorted(name for name, state in states.items() if state == ALARM)
    if firing:
        return GateResult(Verdict.FAIL, tuple(f"alarm {name} is in ALARM" for name in firing))
    unknown = sorted(name for name, state in states.items() if state == INSUFFICIENT_DATA)
    if not unknown or policy is InsufficientDataPolicy.IGNORE:
        return GateResult(Verdict.PASS)
    reasons = tuple(f"alarm {name} is INSUFFICIENT_DATA (policy {policy})" for name in unknown)
    if policy is InsufficientDataPolicy.FAIL or final:
        return GateResult(Verdict.FAIL, reasons)
    return GateResult(Verdict.WAIT, reasons)


# --- per-version health --------------------------------------------------------------------------


def judge_health(
    new: VersionMetrics, old: VersionMetrics | None, config: GateConfig, final: bool
) -> GateResult:
    if new.invocations < config.min_invocations:
        reason = (
            f"version {new.version} had {new.invocations:g} invocations, "
            f"fewer than --min-invocations {config.min_invocations}"
        )
        if not final:
            return GateResult(Verdict.WAIT, (reason,))
        if config.insufficient_traffic is InsufficientTrafficPolicy.PASS:
            return GateResult(Verdict.PASS, (f"{reason}; passed by --insufficient-traffic pass",))
        return GateResult(Verdict.FAIL, (f"{reason}; failed by --insufficient-traffic fail",))
    if config.with_latency and new.p99_ms is None:
        reason = f"version {new.version} has invocations but no p99 Duration data yet"
        return GateResult(Verdict.FAIL if final else Verdict.WAIT, (reason,))
    comparable = old if old is not None and old.invocations >= config.min_invocations else None
    failures = [*_error_failures(new, comparable, config), *_latency_failures(new, comparable, config)]
    if failures:
        return GateResult(Verdict.FAIL, tuple(failures))
    return GateResult(Verdict.PASS)


def _error_failures(new: VersionMetrics, old: VersionMetrics | None, config: GateConfig) -> list[str]:
    failures = []
    if new.error_rate > config.max_error_rate:
        failures.append(
            f"version {new.version} error rate {new.error_rate:.2%} "
            f"({_errors(new)}/{new.invocations:g}) > --max-error-rate {config.max_error_rate:.2%}"
        )
    delta = config.max_error_rate_delta
    if old is not None and delta is not None and new.error_rate > old.error_rate + delta:
        failures.append(
            f"version {new.version} error rate {new.error_rate:.2%} exceeds version {old.version}'s "
            f"{old.error_rate:.2%} by more than --max-error-rate-delta {delta:.2%}"
        )
    return failures


def _errors(numbers: VersionMetrics) -> str:
    """`2`, or `50 = 2 Lambda Errors + 48 ServerErrors` when EMF errors were read."""
    if numbers.server_errors is None:
        return f"{numbers.errors:g}"
    return (
        f"{numbers.errors:g} = {numbers.lambda_errors:g} Lambda Errors "
        f"+ {numbers.server_errors:g} ServerErrors"
    )


def _latency_failures(new: VersionMetrics, old: VersionMetrics | None, config: GateConfig) -> list[str]:
    if new.p99_ms is None:
        return []
    failures = []
    if config.max_p99_ms is not None and new.p99_ms > config.max_p99_ms:
        failures.append(f"version {new.version} p99 {new.p99_ms:.1f} ms > --max-p99-ms {config.max_p99_ms:g}")
    ratio = config.max_p99_ratio
    if ratio is not None and old is not None and old.p99_ms is not None and new.p99_ms > ratio * old.p99_ms:
        failures.append(
            f"version {new.version} p99 {new.p99_ms:.1f} ms > {ratio:g} × version {old.version}'s "
            f"{old.p99_ms:.1f} ms (--max-p99-ratio)"
        )
    return failures
