"""CloudWatch alarms as gates, and per-version alarms that follow the version `live` serves.

Gate (describe_alarms): ALARM fails at once; INSUFFICIENT_DATA follows `--insufficient-data` (`fail`
fails at once, `wait` keeps polling and fails if still so when the step's time is up, `ignore` is OK).

Following: the stack's per-version alarms name a version in a dimension (`ExecutedVersion` for
AWS/Lambda metrics, `function_version` for the function's EMF metrics). `sam deploy` points them at
the version it just published, the candidate; nothing re-points them when a promotion rolls back,
and after a promotion they watch the live version only until the next deploy. So `fnkit promote`
re-points each `--alarm` (put_metric_alarm with the alarm's own configuration, only those dimension
values changed): at the target before any traffic moves, so the alarms gate the version being
judged, and at whatever `live` serves when the run ends. An alarm already naming the version is not
written. Metrics whose FunctionName is another function, and composite alarms, are left alone.
`put_metric_alarm` keeps the alarm's state and tags when it updates an existing alarm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fnkit_runtime.constants import DIMENSION_FUNCTION_VERSION

from fnkit_ops.promote.alias import is_published_number
from fnkit_ops.promote.constants import DIM_EXECUTED_VERSION, DIM_FUNCTION_NAME
from fnkit_ops.promote.exceptions import AlarmFollowError, AlarmNotFoundError
from fnkit_ops.promote.gates import GateResult, InsufficientDataPolicy, Verdict
from fnkit_ops.promote.metrics import CloudWatchClient
from fnkit_ops.promote.report import record_dict

ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
PER_VERSION_DIMENSIONS = frozenset({DIM_EXECUTED_VERSION, DIMENSION_FUNCTION_VERSION})

# describe_alarms fields that put_metric_alarm takes back; the single-metric ones only without Metrics.
_ALARM_FIELDS = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "ThresholdMetricId",
)
_SINGLE_METRIC_FIELDS = (
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
)


def read_alarms(cloudwatch: CloudWatchClient, names: Sequence[str]) -> dict[str, str]:
    """Alarm name → state (OK | ALARM | INSUFFICIENT_DATA); AlarmNotFoundError for a missing name."""
    if not names:
        return {}
    states: dict[str, str] = {}
    for alarm in _describe(cloudwatch, names, ["MetricAlarm", "CompositeAlarm"]):
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


@dataclass(frozen=True)
class AlarmMove:
    """One alarm re-pointed (or found already pointing) at `version`."""

    alarm: str
    before: tuple[str, ...]
    version: str
    written: bool

    def to_dict(self) -> dict[str, Any]:
        return record_dict(self)


def point_alarms(
    cloudwatch: CloudWatchClient, names: Sequence[str], function: str, version: str
) -> list[AlarmMove]:
    """Re-point the per-version dimensions of the named metric alarms at `version`."""
    if not names:
        return []
    try:
        moves = []
        for alarm in _describe(cloudwatch, names, ["MetricAlarm"]):
            request, before = _repointed(alarm, function, version)
            written = bool(before) and set(before) != {version}
            if written:
                cloudwatch.put_metric_alarm(**request)
            moves.append(AlarmMove(alarm["AlarmName"], tuple(sorted(set(before))), version, written))
    except (ClientError, BotoCoreError) as exc:
        raise AlarmFollowError(f"re-pointing alarms at version {version} failed: {exc}") from exc
    return moves


def _describe(cloudwatch: CloudWatchClient, names: Sequence[str], types: list[str]) -> list[dict[str, Any]]:
    alarms: list[dict[str, Any]] = []
    paginator = cloudwatch.get_paginator("describe_alarms")
    for page in paginator.paginate(AlarmNames=list(names), AlarmTypes=types):
        alarms += [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]
    return alarms


def _repointed(alarm: dict[str, Any], function: str, version: str) -> tuple[dict[str, Any], list[str]]:
    """The put_metric_alarm request for `alarm` with its per-version values set to `version`, and the
    values it had."""
    before: list[str] = []
    request = {key: alarm[key] for key in _ALARM_FIELDS if alarm.get(key) is not None}
    queries = alarm.get("Metrics") or []
    if queries:
        request["Metrics"] = [_repoint_query(q, function, version, before) for q in queries]
    else:
        request.update({key: alarm[key] for key in _SINGLE_METRIC_FIELDS if alarm.get(key) is not None})
        request["Dimensions"] = _repoint(alarm.get("Dimensions") or [], function, version, before)
    return request, before


def _repoint_query(query: dict[str, Any], function: str, version: str, before: list[str]) -> dict[str, Any]:
    stat = query.get("MetricStat")
    if not stat:
        return dict(query)
    metric = dict(stat["Metric"])
    metric["Dimensions"] = _repoint(metric.get("Dimensions") or [], function, version, before)
    return {**query, "MetricStat": {**stat, "Metric": metric}}


def _repoint(
    dimensions: list[dict[str, str]], function: str, version: str, before: list[str]
) -> list[dict[str, str]]:
    named = {d["Name"]: d["Value"] for d in dimensions}
    if named.get(DIM_FUNCTION_NAME, function) != function:
        return list(dimensions)
    out = []
    for dimension in dimensions:
        name, value = dimension["Name"], dimension["Value"]
        if name in PER_VERSION_DIMENSIONS and is_published_number(value):
            before.append(value)
            value = version
        out.append({"Name": name, "Value": value})
    return out
