"""Per-version numbers of a weighted alias from CloudWatch (AWS/Lambda, ExecutedVersion dimension).

Lambda publishes Invocations, Errors and Duration for each version an alias executes under the
dimension set {FunctionName, Resource="<function>:<alias>", ExecutedVersion="<n>"}. Reading the new
version through that set judges a 10 % canary on its own requests, not diluted by the old version's.
One `get_metric_data` call reads every version's Sum of Invocations and Errors (and, when a latency
gate is on, p99 of Duration) over one period spanning the whole window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from fnkit_ops.promote.constants import (
    DIM_EXECUTED_VERSION,
    DIM_FUNCTION_NAME,
    DIM_RESOURCE,
    LAMBDA_NAMESPACE,
    LATENCY_STAT,
    METRIC_DURATION,
    METRIC_ERRORS,
    METRIC_INVOCATIONS,
)

CloudWatchClient = Any
"""A boto3 CloudWatch client."""

_MINUTE = 60


@dataclass(frozen=True)
class VersionMetrics:
    """One version's numbers in a window: counts are sums; p99_ms is None when not read or no data."""

    version: str
    invocations: float
    errors: float
    p99_ms: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_rate": round(self.error_rate, 6)}


class MetricsReader(Protocol):
    """Reads per-version metrics of one alias between two instants."""

    def read(
        self, versions: Sequence[str], start: datetime, end: datetime, with_latency: bool
    ) -> dict[str, VersionMetrics]: ...


def window(start: datetime, end: datetime) -> tuple[datetime, datetime, int]:
    """Align [start, end] to whole minutes and return it with one period (seconds) covering it all."""
    aligned_start = start.replace(second=0, microsecond=0)
    aligned_end = end.replace(second=0, microsecond=0)
    if aligned_end < end:
        aligned_end += timedelta(minutes=1)
    span = max((aligned_end - aligned_start).total_seconds(), _MINUTE)
    period = int(math.ceil(span / _MINUTE) * _MINUTE)
    return aligned_start, aligned_start + timedelta(seconds=period), period


class CloudWatchMetricsReader:
    """`MetricsReader` over CloudWatch `get_metric_data` for `function:alias`."""

    def __init__(self, cloudwatch: CloudWatchClient, function: str, alias: str) -> None:
        self._cloudwatch = cloudwatch
        self.function = function
        self.alias = alias

    def dimensions(self, version: str) -> list[dict[str, str]]:
        return [
            {"Name": DIM_FUNCTION_NAME, "Value": self.function},
            {"Name": DIM_RESOURCE, "Value": f"{self.function}:{self.alias}"},
            {"Name": DIM_EXECUTED_VERSION, "Value": version},
        ]

    def queries(self, versions: Sequence[str], period: int, with_latency: bool) -> list[dict[str, Any]]:
        wanted = [("inv", METRIC_INVOCATIONS, "Sum"), ("err", METRIC_ERRORS, "Sum")]
        if with_latency:
            wanted.append(("p99", METRIC_DURATION, LATENCY_STAT))
        return [
            {
                "Id": f"{prefix}_v{version}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": LAMBDA_NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": self.dimensions(version),
                    },
                    "Period": period,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
            for version in versions
            for prefix, metric, stat in wanted
        ]

    def read(
        self, versions: Sequence[str], start: datetime, end: datetime, with_latency: bool
    ) -> dict[str, VersionMetrics]:
        aligned_start, aligned_end, period = window(start, end)
        values: dict[str, list[float]] = {}
        request: dict[str, Any] = {
            "MetricDataQueries": self.queries(versions, period, with_latency),
            "StartTime": aligned_start,
            "EndTime": aligned_end,
        }
        while True:
            response = self._cloudwatch.get_metric_data(**request)
            for result in response.get("MetricDataResults", []):
                values.setdefault(result["Id"], []).extend(float(v) for v in result.get("Values", []))
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
        return {version: _collect(version, values, with_latency) for version in versions}


def _collect(version: str, values: dict[str, list[float]], with_latency: bool) -> VersionMetrics:
    latency = values.get(f"p99_v{version}", [])
    return VersionMetrics(
        version=version,
        invocations=sum(values.get(f"inv_v{version}", [])),
        errors=sum(values.get(f"err_v{version}", [])),
        # One period covers the window, so there is at most one value; if CloudWatch split it,
        # the worst period is the conservative reading.
        p99_ms=max(latency) if (with_latency and latency) else None,
    )
