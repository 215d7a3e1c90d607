"""Gates on the new version's own numbers, judged at each reading of a step (alarms: alarms.py).

A reading is PASS, WAIT (not enough evidence yet: keep polling) or FAIL (roll back now). At the end
of a step, after the settle time (`final=True`), WAIT is no longer possible: it resolves by the
stated policies.

- Incomplete CloudWatch data (a query error, a StatusCode other than Complete) → WAIT, and FAIL at
  the end of the step: the gates never pass on numbers they cannot trust.
- Less work than `min_invocations` → WAIT; at the end `--insufficient-traffic` decides (`fail` by
  default: a canary that received no traffic proved nothing). Work is the version's requests with
  the EMF source (health checks and warm-ups are not requests), else its Lambda invocations.
- Otherwise FAIL at once when, for the new version: its error rate (Lambda Errors + EMF ServerErrors)
  exceeds `max_error_rate`, or the old version's rate by more than `max_error_rate_delta`; its 4xx
  share (EMF ClientErrors) exceeds `max_client_error_rate`, or the old version's share by more than
  `max_client_error_rate_delta`; its p99 exceeds `max_p99_ms` or `max_p99_ratio` × the old p99.
  Comparisons with the old version are made only when the old version too has enough work (or
  latency samples) in the window.
- Latency is judged on warm work: p99 of the EMF InferenceTime (no model load in it), once there are
  `min_latency_samples`; fewer → WAIT, and at the end `--insufficient-traffic` decides. Without the
  EMF source, p99 Lambda Duration, which includes cold starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fnkit_ops.promote.constants import (
    DEFAULT_MAX_CLIENT_ERROR_RATE,
    DEFAULT_MAX_CLIENT_ERROR_RATE_DELTA,
    DEFAULT_MAX_ERROR_RATE,
    DEFAULT_MAX_ERROR_RATE_DELTA,
    DEFAULT_MAX_P99_RATIO,
    DEFAULT_MIN_INVOCATIONS,
    DEFAULT_MIN_LATENCY_SAMPLES,
)
from fnkit_ops.promote.exceptions import PromoteUsageError
from fnkit_ops.promote.metrics import EmfSource, MetricsReading, VersionMetrics


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
    """What a step whose new version saw too little work (or latency samples) means at its end."""

    FAIL = "fail"
    PASS = "pass"


def _rate(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise PromoteUsageError(f"{name} {value} must be within [0, 1]")


@dataclass(frozen=True)
class GateConfig:
    alarms: tuple[str, ...] = ()
    insufficient_data: InsufficientDataPolicy = InsufficientDataPolicy.WAIT
    min_invocations: int = DEFAULT_MIN_INVOCATIONS
    insufficient_traffic: InsufficientTrafficPolicy = InsufficientTrafficPolicy.FAIL
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    max_error_rate_delta: float | None = DEFAULT_MAX_ERROR_RATE_DELTA
    max_client_error_rate: float = DEFAULT_MAX_CLIENT_ERROR_RATE
    max_client_error_rate_delta: float | None = DEFAULT_MAX_CLIENT_ERROR_RATE_DELTA
    max_p99_ms: float | None = None
    max_p99_ratio: float | None = DEFAULT_MAX_P99_RATIO
    min_latency_samples: int = DEFAULT_MIN_LATENCY_SAMPLES
    emf: EmfSource | None = None
    """Where the function's EMF metrics are; None = judge Lambda's numbers alone (no 4xx gate)."""

    def __post_init__(self) -> None:
        if self.min_invocations < 1:
            raise PromoteUsageError(f"--min-invocations {self.min_invocations} must be at least 1")
        if self.min_latency_samples < 1:
            raise PromoteUsageError(f"--min-latency-samples {self.min_latency_samples} must be at least 1")
        _rate("--max-error-rate", self.max_error_rate)
        _rate("--max-error-rate-delta", self.max_error_rate_delta)
        _rate("--max-client-error-rate", self.max_client_error_rate)
        _rate("--max-client-error-rate-delta", self.max_client_error_rate_delta)
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
            "max_client_error_rate": self.max_client_error_rate if self.emf else None,
            "max_client_error_rate_delta": self.max_client_error_rate_delta if self.emf else None,
            "max_p99_ms": self.max_p99_ms,
            "max_p99_ratio": self.max_p99_ratio,
            "min_latency_samples": self.min_latency_samples,
            "latency_metric": "InferenceTime" if self.emf else "Duration (includes cold starts)",
            "emf": self.emf.to_dict() if self.emf else None,
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


def unsure(reasons: tuple[str, ...], final: bool) -> GateResult:
    """Evidence that cannot be trusted: keep waiting, and fail once the step is over (fail closed)."""
    return GateResult(Verdict.FAIL if final else Verdict.WAIT, reasons)


def judge_reading(
    reading: MetricsReading, new: str, old: str | None, config: GateConfig, final: bool
) -> GateResult:
    if reading.problems:
        return unsure(tuple(f"incomplete CloudWatch data: {p}" for p in reading.problems), final)
    return judge_health(reading.numbers[new], reading.numbers.get(old or ""), config, final)


def judge_health(
    new: VersionMetrics, old: VersionMetrics | None, config: GateConfig, final: bool
) -> GateResult:
    if new.work < config.min_invocations:
        return _too_little(new, config, final, _traffic_reason(new, config))
    comparable = old if old is not None and old.work >= config.min_invocations else None
    latency_ready = new.latency_samples >= config.min_latency_samples
    failures = [
        *_error_failures(new, comparable, config),
        *_client_error_failures(new, comparable, config),
        *(_latency_failures(new, old, config) if config.with_latency and latency_ready else []),
    ]
    if failures:
        return GateResult(Verdict.FAIL, tuple(failures))
    if not config.with_latency:
        return GateResult(Verdict.PASS)
    if not latency_ready:
        reason = (
            f"version {new.version} has {new.latency_samples:g} latency samples, "
            f"fewer than --min-latency-samples {config.min_latency_samples}"
        )
        return _too_little(new, config, final, reason)
    if new.p99_ms is None:
        return unsure((f"version {new.version} has latency samples but no p99 data yet",), final)
    return GateResult(Verdict.PASS)


def _traffic_reason(new: VersionMetrics, config: GateConfig) -> str:
    unit = "requests" if new.emf else "invocations"
    reason = (
        f"version {new.version} had {new.work:g} {unit}, "
        f"fewer than --min-invocations {config.min_invocations}"
    )
    if new.emf and new.requests == 0 and new.invocations >= config.min_invocations:
        reason += (
            f" (Lambda counted {new.invocations:g} invocations but no EMF Requests arrived: health checks "
            "and warm-ups only, EMF still in transit, or --emf-* not the function's)"
        )
    return reason


def _too_little(new: VersionMetrics, config: GateConfig, final: bool, reason: str) -> GateResult:
    if not final:
        return GateResult(Verdict.WAIT, (reason,))
    if config.insufficient_traffic is InsufficientTrafficPolicy.PASS:
        return GateResult(Verdict.PASS, (f"{reason}; passed by --insufficient-traffic pass",))
    return GateResult(Verdict.FAIL, (f"{reason}; failed by --insufficient-traffic fail",))


def _error_failures(new: VersionMetrics, old: VersionMetrics | None, config: GateConfig) -> list[str]:
    failures = []
    if new.error_rate > config.max_error_rate:
        failures.append(
            f"version {new.version} error rate {new.error_rate:.2%} "
            f"({_errors(new)}/{new.work:g}) > --max-error-rate {config.max_error_rate:.2%}"
        )
    delta = config.max_error_rate_delta
    if old is not None and delta is not None and new.error_rate > old.error_rate + delta:
        failures.append(
            f"version {new.version} error rate {new.error_rate:.2%} exceeds version {old.version}'s "
            f"{old.error_rate:.2%} by more than --max-error-rate-delta {delta:.2%}"
        )
    return failures


def _client_error_failures(new: VersionMetrics, old: VersionMetrics | None, config: GateConfig) -> list[str]:
    rate = new.client_error_rate
    if rate is None:
        return []
    failures = []
    if rate > config.max_client_error_rate:
        failures.append(
            f"version {new.version} answered {rate:.2%} of requests with a 4xx "
            f"({new.client_errors:g} ClientErrors/{new.work:g}) > --max-client-error-rate "
            f"{config.max_client_error_rate:.2%}"
        )
    delta = config.max_client_error_rate_delta
    old_rate = old.client_error_rate if old is not None else None
    if old is not None and old_rate is not None and delta is not None and rate > old_rate + delta:
        failures.append(
            f"version {new.version} 4xx share {rate:.2%} exceeds version {old.version}'s {old_rate:.2%} "
            f"by more than --max-client-error-rate-delta {delta:.2%}"
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
    metric = "InferenceTime" if new.emf else "Duration"
    failures = []
    if config.max_p99_ms is not None and new.p99_ms > config.max_p99_ms:
        failures.append(
            f"version {new.version} p99 {metric} {new.p99_ms:.1f} ms > --max-p99-ms {config.max_p99_ms:g}"
        )
    ratio = config.max_p99_ratio
    old_p99 = old.p99_ms if old is not None and old.latency_samples >= config.min_latency_samples else None
    if ratio is not None and old is not None and old_p99 is not None and new.p99_ms > ratio * old_p99:
        failures.append(
            f"version {new.version} p99 {metric} {new.p99_ms:.1f} ms > {ratio:g} × version "
            f"{old.version}'s {old_p99:.1f} ms (--max-p99-ratio)"
        )
    return failures
