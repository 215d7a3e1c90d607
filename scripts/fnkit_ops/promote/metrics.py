"""Per-version numbers of a weighted alias from CloudWatch (AWS/Lambda, ExecutedVersion dimension).

Lambda publishes Invocations, Errors and Duration for each version an alias executes under the
dimension set {FunctionName, Resource="<function>:<alias>", ExecutedVersion="<n>"}. Reading the new
version through that set judges a 10 % canary on its own requests, not diluted by the old version's.
One `get_metric_data` call reads every version's Sum of Invocations and Errors (and, when a latency
gate is on, p99 of Duration) over one period spanning the whole window.

Lambda's Errors counts only crashes and timeouts: fnkit's handler catches every exception and answers
5xx, which Lambda counts as a success. With an `EmfErrorSource` (`--emf-namespace/-service/-model`)
the same call also reads the function's own EMF `ServerErrors` for each version (dimensions service,
model, function_version) and a version's errors are Lambda Errors + ServerErrors. The function emits
ServerErrors only when an error happens, so no data is zero errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from fnkit_runtime.constants import DIMENSION_FUNCTION_VERSION, DIMENSION_MODEL, METRIC_SERVER_ERRORS

from fnkit_ops.promote.constants import (
    DIM_EMF_SERVICE,
    DIM_EXECUTED_VERSION,
    DIM_FUNCTION_NAME,
    DIM_RESOURCE,
    EMF_STAT,
    LAMBDA_NAMESPACE,
    LATENCY_STAT,
    METRIC_DURATION,
    METRIC_ERRORS,
    METRIC_INVOCATIONS,
)
from fnkit_ops.promote.exceptions import PromoteUsageError

CloudWatchClient = Any
"""A boto3 CloudWatch client."""

_MINUTE = 60
_MAX_NAMESPACE = 255
_MAX_DIMENSION_VALUE = 1024


@dataclass(frozen=True)
class EmfErrorSource:
    """Where the function publishes its EMF `ServerErrors`: the metrics namespace and the `service`
    and `model` dimension values (the third dimension, function_version, is the version read)."""

    namespace: str
    service: str
    model: str

    def __post_init__(self) -> None:
        for flag, value, limit in (
            ("--emf-namespace", self.namespace, _MAX_NAMESPACE),
            ("--emf-service", self.service, _MAX_DIMENSION_VALUE),
            ("--emf-model", self.model, _MAX_DIMENSION_VALUE),
        ):
            if not value or value != value.strip():
                raise PromoteUsageError(f"{flag} {value!r} is empty or has surrounding spaces")
            if len(value) > limit:
                raise PromoteUsageError(f"{flag} is longer than CloudWatch's {limit} characters")
        if self.namespace.startswith("AWS/"):
            raise PromoteUsageError(
                f"--emf-namespace {self.namespace!r} is an AWS namespace, not the function's EMF namespace"
            )

    def dimensions(self, version: str) -> list[dict[str, str]]:
        return [
            {"Name": DIM_EMF_SERVICE, "Value": self.service},
            {"Name": DIMENSION_MODEL, "Value": self.model},
            {"Name": DIMENSION_FUNCTION_VERSION, "Value": version},
        ]

    def to_dict(self) -> dict[str, str]:
        return {**asdict(self), "metric": METRIC_SERVER_ERRORS}


@dataclass(frozen=True)
class VersionMetrics:
    """One version's numbers in a window: counts are sums; p99_ms is None when not read or no data.

    `errors` is what the gates judge: Lambda Errors, plus `server_errors` (the function's EMF
    ServerErrors) when those were read; `server_errors` is None when they were not.
    """

    version: str
    invocations: float
    errors: float
    p99_ms: float | None = None
    server_errors: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations > 0 else 0.0

    @property
    def lambda_errors(self) -> float:
        return self.errors - (self.server_errors or 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "lambda_errors": self.lambda_errors,
            "error_rate": round(self.error_rate, 6),
        }


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
    """`MetricsReader` over CloudWatch `get_metric_data` for `function:alias` (and, given `emf`, the
    function's EMF ServerErrors per version)."""

    def __init__(
        self, cloudwatch: CloudWatchClient, function: str, alias: str, emf: EmfErrorSource | None = None
    ) -> None:
        self._cloudwatch = cloudwatch
        self.function = function
        self.alias = alias
        self.emf = emf

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
        queries = []
        for version in versions:
            dimensions = self.dimensions(version)
            for prefix, metric, stat in wanted:
                queries.append(
                    _query(f"{prefix}_v{version}", (LAMBDA_NAMESPACE, metric, dimensions), period, stat)
                )
            if self.emf is not None:
                queries.append(
                    _query(
                        f"srv_v{version}",
                        (self.emf.namespace, METRIC_SERVER_ERRORS, self.emf.dimensions(version)),
                        period,
                        EMF_STAT,
                    )
                )
        return queries

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
        with_emf = self.emf is not None
        return {version: _collect(version, values, with_latency, with_emf) for version in versions}


def _query(
    query_id: str, metric: tuple[str, str, list[dict[str, str]]], period: int, stat: str
) -> dict[str, Any]:
    """One MetricStat query; `metric` is (namespace, metric name, dimensions)."""
    namespace, name, dimensions = metric
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _collect(
    version: str, values: dict[str, list[float]], with_latency: bool, with_emf: bool
) -> VersionMetrics:
    latency = values.get(f"p99_v{version}", [])
    # ServerErrors is emitted only when an error happens: no values is zero errors, not unknown.
    server_errors = sum(values.get(f"srv_v{version}", [])) if with_emf else None
    return VersionMetrics(
        version=version,
        invocations=sum(values.get(f"inv_v{version}", [])),
        errors=sum(values.get(f"err_v{version}", [])) + (server_errors or 0.0),
        # One period covers the window, so there is at most one value; if CloudWatch split it,
        # the worst period is the conservative reading.
        p99_ms=max(latency) if (with_latency and latency) else None,
        server_errors=server_errors,
    )
