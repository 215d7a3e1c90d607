"""Per-version numbers of a weighted alias from CloudWatch, read in one `get_metric_data` call.

AWS/Lambda publishes Invocations, Errors and Duration for each version an alias executes under the
dimension set {FunctionName, Resource="<function>:<alias>", ExecutedVersion="<n>"}, so a 10 % canary
is judged on its own requests, not diluted by the old version's.

Lambda's numbers cannot tell a client's request from a health check or a warm-up, its Errors count
only crashes and timeouts (fnkit's handler answers every exception with a 4xx/5xx, which Lambda
counts as a success), and Duration includes the model load of a cold start. With an `EmfSource`
(`--emf-namespace/-service/-model`) each version is judged on the function's own EMF metrics instead
(dimensions service, model, function_version; see fnkit_runtime.observability):
- work = `Requests` (every invocation that is not a health check or warm-up) + Lambda `Errors` (a
  crash or timeout flushes no EMF);
- errors = Lambda `Errors` + `ServerErrors`; client errors = `ClientErrors` (4xx);
- latency = p99 of `InferenceTime` with its SampleCount: warm work only, no model load in it;
- cold starts = SampleCount of `ModelLoadTime` (one per execution environment that loaded the model),
  with its Average and Maximum, for the report.
Without it, work = Lambda Invocations, errors = Lambda Errors and latency = Duration p99.

Fail closed: a query error, a result whose StatusCode is not Complete, a result missing or carrying
messages makes the reading incomplete (`MetricsReading.problems`); the gates never pass on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from fnkit_runtime.constants import (
    DIMENSION_FUNCTION_VERSION,
    DIMENSION_MODEL,
    METRIC_CLIENT_ERRORS,
    METRIC_INFERENCE_TIME,
    METRIC_MODEL_LOAD_TIME,
    METRIC_REQUESTS,
    METRIC_SERVER_ERRORS,
)

from fnkit_ops.promote.constants import (
    AVERAGE,
    DIM_EMF_SERVICE,
    DIM_EXECUTED_VERSION,
    DIM_FUNCTION_NAME,
    DIM_RESOURCE,
    LAMBDA_NAMESPACE,
    LATENCY_STAT,
    MAXIMUM,
    METRIC_DURATION,
    METRIC_ERRORS,
    METRIC_INVOCATIONS,
    SAMPLE_COUNT,
    STATUS_COMPLETE,
    SUM,
)
from fnkit_ops.promote.exceptions import PromoteUsageError

CloudWatchClient = Any
"""A boto3 CloudWatch client."""

_MINUTE = 60
_MAX_NAMESPACE = 255
_MAX_DIMENSION_VALUE = 1024
_LAMBDA, _EMF = "lambda", "emf"


@dataclass(frozen=True)
class EmfSource:
    """Where the function publishes its EMF metrics: the namespace and the `service` and `model`
    dimension values (the third dimension, function_version, is the version read)."""

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

    def to_dict(self) -> dict[str, Any]:
        metrics = [METRIC_REQUESTS, METRIC_CLIENT_ERRORS, METRIC_SERVER_ERRORS]
        return {**asdict(self), "metrics": [*metrics, METRIC_INFERENCE_TIME, METRIC_MODEL_LOAD_TIME]}


@dataclass(frozen=True)
class VersionMetrics:
    """One version's numbers in a window. The EMF fields are None when no EmfSource was read."""

    version: str
    invocations: float
    """Lambda Invocations: every call, health checks and warm-ups included."""
    lambda_errors: float
    """Lambda Errors: crashes and timeouts."""
    duration_p99_ms: float | None = None
    """Lambda Duration p99 (read without an EmfSource): includes cold starts' model loads."""
    requests: float | None = None
    server_errors: float | None = None
    client_errors: float | None = None
    inference_p99_ms: float | None = None
    inference_samples: float | None = None
    cold_starts: float | None = None
    """Model loads (SampleCount of ModelLoadTime): one per execution environment that served."""
    model_load_avg_ms: float | None = None
    model_load_max_ms: float | None = None

    @property
    def emf(self) -> bool:
        return self.requests is not None

    @property
    def work(self) -> float:
        """What the rates divide by: requests (EMF) + Lambda errors, else Lambda invocations."""
        if self.requests is None:
            return self.invocations
        return self.requests + self.lambda_errors

    @property
    def errors(self) -> float:
        return self.lambda_errors + (self.server_errors or 0.0)

    @property
    def error_rate(self) -> float:
        return self.errors / self.work if self.work > 0 else 0.0

    @property
    def client_error_rate(self) -> float | None:
        if self.client_errors is None:
            return None
        return self.client_errors / self.work if self.work > 0 else 0.0

    @property
    def p99_ms(self) -> float | None:
        return self.inference_p99_ms if self.emf else self.duration_p99_ms

    @property
    def latency_samples(self) -> float:
        return (self.inference_samples or 0.0) if self.emf else self.invocations

    def to_dict(self) -> dict[str, Any]:
        client = self.client_error_rate
        return {
            **asdict(self),
            "work": self.work,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "client_error_rate": None if client is None else round(client, 6),
            "p99_ms": self.p99_ms,
            "latency_metric": METRIC_INFERENCE_TIME if self.emf else METRIC_DURATION,
        }


@dataclass(frozen=True)
class MetricsReading:
    """The numbers of one `read`; `problems` says why they cannot be trusted (then never pass)."""

    numbers: dict[str, VersionMetrics] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


class MetricsReader(Protocol):
    """Reads per-version metrics of one alias between two instants."""

    def read(
        self, versions: Sequence[str], start: datetime, end: datetime, with_latency: bool
    ) -> MetricsReading: ...


def window(start: datetime, end: datetime) -> tuple[datetime, datetime, int]:
    """Align [start, end] to whole minutes and return it with one period (seconds) covering it all."""
    aligned_start = start.replace(second=0, microsecond=0)
    aligned_end = end.replace(second=0, microsecond=0)
    if aligned_end < end:
        aligned_end += timedelta(minutes=1)
    span = max((aligned_end - aligned_start).total_seconds(), _MINUTE)
    period = int(math.ceil(span / _MINUTE) * _MINUTE)
    return aligned_start, aligned_start + timedelta(seconds=period), period


# (query id prefix, source, metric, statistic); which are read depends on the mode and latency gates.
_COUNTS = (("inv", _LAMBDA, METRIC_INVOCATIONS, SUM), ("err", _LAMBDA, METRIC_ERRORS, SUM))
_DURATION = (("dur", _LAMBDA, METRIC_DURATION, LATENCY_STAT),)
_EMF_COUNTS = (
    ("req", _EMF, METRIC_REQUESTS, SUM),
    ("srv", _EMF, METRIC_SERVER_ERRORS, SUM),
    ("cli", _EMF, METRIC_CLIENT_ERRORS, SUM),
    ("load", _EMF, METRIC_MODEL_LOAD_TIME, SAMPLE_COUNT),
    ("loadavg", _EMF, METRIC_MODEL_LOAD_TIME, AVERAGE),
    ("loadmax", _EMF, METRIC_MODEL_LOAD_TIME, MAXIMUM),
)
_EMF_LATENCY = (
    ("inf", _EMF, METRIC_INFERENCE_TIME, LATENCY_STAT),
    ("infn", _EMF, METRIC_INFERENCE_TIME, SAMPLE_COUNT),
)


class CloudWatchMetricsReader:
    """`MetricsReader` over CloudWatch `get_metric_data` for `function:alias` (and, given `emf`, the
    function's EMF metrics per version)."""

    def __init__(
        self, cloudwatch: CloudWatchClient, function: str, alias: str, emf: EmfSource | None = None
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

    def _wanted(self, with_latency: bool) -> tuple[tuple[str, str, str, str], ...]:
        if self.emf is None:
            return _COUNTS + (_DURATION if with_latency else ())
        return _COUNTS + _EMF_COUNTS + (_EMF_LATENCY if with_latency else ())

    def queries(self, versions: Sequence[str], period: int, with_latency: bool) -> list[dict[str, Any]]:
        queries = []
        for version in versions:
            for prefix, source, metric, stat in self._wanted(with_latency):
                if source == _EMF and self.emf is not None:
                    where = (self.emf.namespace, metric, self.emf.dimensions(version))
                else:
                    where = (LAMBDA_NAMESPACE, metric, self.dimensions(version))
                queries.append(_query(f"{prefix}_v{version}", where, period, stat))
        return queries

    def read(
        self, versions: Sequence[str], start: datetime, end: datetime, with_latency: bool
    ) -> MetricsReading:
        aligned_start, aligned_end, period = window(start, end)
        queries = self.queries(versions, period, with_latency)
        request: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": aligned_start,
            "EndTime": aligned_end,
        }
        values: dict[str, list[float]] = {}
        status: dict[str, str] = {}
        problems: list[str] = []
        try:
            while True:
                response = self._cloudwatch.get_metric_data(**request)
                problems += [_message("get_metric_data", m) for m in response.get("Messages") or []]
                for result in response.get("MetricDataResults", []):
                    query_id = result["Id"]
                    values.setdefault(query_id, []).extend(float(v) for v in result.get("Values", []))
                    status[query_id] = str(result.get("StatusCode", "missing"))
                    problems += [_message(query_id, m) for m in result.get("Messages") or []]
                token = response.get("NextToken")
                if not token:
                    break
                request["NextToken"] = token
        except (ClientError, BotoCoreError) as exc:
            failed = f"CloudWatch get_metric_data failed: {type(exc).__name__}: {exc}"
            return MetricsReading(problems=(failed,))
        for query in queries:
            state = status.get(query["Id"])
            if state is None:
                problems.append(f"{query['Id']}: no result returned")
            elif state != STATUS_COMPLETE:
                problems.append(f"{query['Id']}: StatusCode {state}")
        with_emf = self.emf is not None
        numbers = {v: _collect(v, values, with_latency, with_emf) for v in versions}
        return MetricsReading(numbers, tuple(problems))


def _message(where: str, message: dict[str, Any]) -> str:
    return f"{where}: message {message.get('Code', '?')}: {message.get('Value', '')}"


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
    def total(prefix: str) -> float:
        # EMF counts are emitted only when something happens: no values is zero, not unknown.
        return sum(values.get(f"{prefix}_v{version}", []))

    def worst(prefix: str) -> float | None:
        # One period covers the window, so at most one value; if CloudWatch split it, the worst
        # period is the conservative reading.
        found = values.get(f"{prefix}_v{version}", [])
        return max(found) if found else None

    lambda_only = VersionMetrics(version=version, invocations=total("inv"), lambda_errors=total("err"))
    if not with_emf:
        return replace(lambda_only, duration_p99_ms=worst("dur") if with_latency else None)
    loads = values.get(f"loadavg_v{version}", [])
    return replace(
        lambda_only,
        requests=total("req"),
        server_errors=total("srv"),
        client_errors=total("cli"),
        inference_p99_ms=worst("inf") if with_latency else None,
        inference_samples=total("infn") if with_latency else None,
        cold_starts=total("load"),
        model_load_avg_ms=sum(loads) / len(loads) if loads else None,
        model_load_max_ms=worst("loadmax"),
    )
