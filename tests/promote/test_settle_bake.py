"""Settle, then watch: the last reading of a step waits for late metrics; the bake after 100 % keeps
the gates on; the per-version alarms follow the version `live` serves; CloudWatch errors and partial
data fail closed. End to end against moto with the fake clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import ALIAS, FUNCTION, FakeClock, Stack, put_version_metrics

HEALTHY_P99 = {"1": 100.0, "2": 110.0}


def _canary(minutes: int = 2, *extra: str) -> list[str]:
    return ["--function", FUNCTION, "--version", "2", "--strategy", f"canary:10:{minutes}", *extra]


# --- settle ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settle", "code"), [(0, 0), (120, 1)], ids=["no-settle-misses-them", "settle-counts-them"]
)
def test_the_last_reading_waits_for_metrics_that_arrive_late(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, settle: int, code: int
):
    # GIVEN a two-minute canary whose errors of its second minute reach CloudWatch three minutes in
    # (as EMF, extracted from the function's logs, can)
    steady_traffic({"2": (10, 0), "1": (90, 0)})
    start = clock.now

    def late(c: FakeClock) -> None:
        if len(c.sleeps) == 3:
            put_version_metrics(stack.cw, "2", start + timedelta(seconds=90), invocations=0, errors=5)

    clock.on_sleep.append(late)

    # WHEN promoting with no settle time, and with two minutes of it
    run = run_promote(_canary(2, "--settle-seconds", str(settle)), p99_ms=HEALTHY_P99)

    # THEN only the settled run sees the late errors, in a reading after the step's minutes
    assert run.code == code, run.lines
    readings = run.report["steps"][0]["readings"]
    if settle:
        assert stack.alias() == {"version": "1", "weights": {}}
        failed = readings[-1]
        assert failed["phase"] == "settle" and failed["verdict"] == "fail"
        assert failed["new"]["lambda_errors"] == 5
    else:
        assert stack.alias() == {"version": "2", "weights": {}}
        assert clock.elapsed == 120


def test_the_settled_reading_covers_the_steps_own_minutes(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN healthy traffic
    steady_traffic({"2": (10, 0), "1": (90, 0)})
    start = clock.now

    # WHEN promoting a two-minute canary with 90 s of settle time
    run = run_promote(_canary(2, "--settle-seconds", "90"), p99_ms=HEALTHY_P99)

    # THEN the step took its minutes plus the settle time, and its last reading ended at its deadline
    assert run.code == 0, run.lines
    assert clock.elapsed == 120 + 90
    step = run.report["steps"][0]
    assert [r["phase"] for r in step["readings"]] == ["watch", "watch", "settle", "settle", "settle"]
    final = step["readings"][-1]
    assert final["final"] is True
    assert final["window_end"] == (start + timedelta(minutes=2)).isoformat(timespec="seconds")
    assert final["new"]["invocations"] == 20  # the two minutes' traffic, not the settle time's
    assert run.report["settle_seconds"] == 90


# --- bake after 100 % ------------------------------------------------------------------------


@pytest.mark.parametrize("errors_after_promotion", [0, 5], ids=["healthy", "fails-at-100"])
def test_the_bake_keeps_the_gates_on_after_100_percent(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, errors_after_promotion: int
):
    # GIVEN a version healthy at 10 % that, for `errors_after_promotion`, breaks under full traffic
    steady_traffic({"1": (90, 0)})

    def traffic(c: FakeClock) -> None:
        full = stack.alias()["version"] == "2"
        errors = errors_after_promotion if full else 0
        put_version_metrics(stack.cw, "2", c.now - timedelta(seconds=1), 100 if full else 20, errors)

    clock.on_sleep.append(traffic)

    # WHEN promoting with a two-minute bake
    run = run_promote(_canary(1, "--bake-minutes", "2"), p99_ms=HEALTHY_P99)

    # THEN a healthy version is promoted after the bake; a failing one is rolled back and rejected
    bake = run.report["bake"]
    assert bake["weight"] == 1.0 and bake["minutes"] == 2
    if not errors_after_promotion:
        assert run.code == 0, run.lines
        assert bake["result"] == "passed" and clock.elapsed == 60 + 120
        assert stack.alias() == {"version": "2", "weights": {}}
        return
    assert run.code == 1, run.lines
    assert bake["result"] == "failed" and "bake after 100% failed" in run.report["reason"]
    assert run.weights == [0.1, 1.0, 0.0]
    assert stack.alias() == {"version": "1", "weights": {}}
    assert stack.description() == f"fnkit:1 rejected={stack.sha256('2')[:16]}"


# --- alarms follow live --------------------------------------------------------------------------


def _add_version_alarms(stack: Stack, version: str) -> None:
    """The stack's two alarm shapes for one version: a single-metric Duration alarm on the alias's
    ExecutedVersion, and a metric-math error-rate alarm over Lambda and EMF metrics."""
    lambda_dims = [
        {"Name": "FunctionName", "Value": FUNCTION},
        {"Name": "Resource", "Value": f"{FUNCTION}:{ALIAS}"},
        {"Name": "ExecutedVersion", "Value": version},
    ]
    stack.cw.put_metric_alarm(
        AlarmName="p99",
        AlarmDescription="p99 of the version behind live",
        Namespace="AWS/Lambda",
        MetricName="Duration",
        Dimensions=lambda_dims,
        ExtendedStatistic="p99",
        Period=60,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=1000,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="missing",
    )
    emf_dims = [
        {"Name": "service", "Value": "fnkit"},
        {"Name": "model", "Value": "digits"},
        {"Name": "function_version", "Value": version},
    ]
    stack.cw.put_metric_alarm(
        AlarmName="error-rate",
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[
            {"Id": "rate", "Expression": "100 * (FILL(e, 0) + FILL(s, 0)) / i", "ReturnData": True},
            *(
                {
                    "Id": query_id,
                    "ReturnData": False,
                    "MetricStat": {
                        "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
                for query_id, namespace, metric, dims in (
                    ("i", "AWS/Lambda", "Invocations", lambda_dims),
                    ("e", "AWS/Lambda", "Errors", lambda_dims),
                    ("s", "fnkit", "ServerErrors", emf_dims),
                )
            ),
        ],
    )


def _alarm_versions(stack: Stack) -> dict[str, set[str]]:
    versions: dict[str, set[str]] = {}
    for alarm in stack.cw.describe_alarms(AlarmNames=["p99", "error-rate"])["MetricAlarms"]:
        dims = list(alarm.get("Dimensions") or [])
        for query in alarm.get("Metrics") or []:
            if "MetricStat" in query:
                dims += query["MetricStat"]["Metric"]["Dimensions"]
        per_version = {"ExecutedVersion", "function_version"}
        versions[alarm["AlarmName"]] = {d["Value"] for d in dims if d["Name"] in per_version}
    return versions


ALARM_FLAGS = ("--alarm", "p99", "--alarm", "error-rate")


@pytest.mark.parametrize(
    ("new_errors", "code", "live"), [(0, 0, "2"), (5, 1, "1")], ids=["promoted", "rolled-back"]
)
def test_per_version_alarms_follow_the_version_live_serves(
    stack: Stack,
    clock: FakeClock,
    run_promote: Any,
    steady_traffic: Any,
    new_errors: int,
    code: int,
    live: str,
):
    # GIVEN the stack's alarms pointing at version 1 (as a deploy before a rollback leaves them)
    _add_version_alarms(stack, "1")
    steady_traffic({"2": (10, new_errors), "1": (90, 0)})
    during: list[dict[str, set[str]]] = []
    clock.on_sleep.append(lambda _c: during.append(_alarm_versions(stack)))

    # WHEN promoting version 2 gated on them
    run = run_promote(_canary(2, *ALARM_FLAGS), p99_ms=HEALTHY_P99)

    # THEN they watched version 2 during the canary, and watch what live serves afterwards
    assert run.code == code, run.lines
    assert during and all(v == {"p99": {"2"}, "error-rate": {"2"}} for v in during)
    assert _alarm_versions(stack) == {"p99": {live}, "error-rate": {live}}
    assert stack.alias()["version"] == live
    # AND everything else about the alarms is as it was
    [p99] = stack.cw.describe_alarms(AlarmNames=["p99"])["MetricAlarms"]
    assert (p99["ExtendedStatistic"], p99["DatapointsToAlarm"], p99["TreatMissingData"]) == (
        "p99",
        2,
        "missing",
    )
    assert p99["AlarmDescription"] == "p99 of the version behind live"
    # AND the report lists each move: to 2 before traffic moved, then to live (a write only if it moved)
    moves = sorted(
        (m["version"], m["alarm"], tuple(m["before"]), m["written"]) for m in run.report["alarms_followed"]
    )
    back = live == "1"
    assert moves == sorted(
        [("2", name, ("1",), True) for name in ("p99", "error-rate")]
        + [(live, name, ("2",), back) for name in ("p99", "error-rate")]
    )


def test_no_follow_alarms_leaves_them_alone(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN alarms on version 1
    _add_version_alarms(stack, "1")
    steady_traffic({"2": (10, 0), "1": (90, 0)})

    # WHEN promoting with --no-follow-alarms
    run = run_promote(_canary(2, *ALARM_FLAGS, "--no-follow-alarms"), p99_ms=HEALTHY_P99)

    # THEN promoted, alarms untouched
    assert run.code == 0, run.lines
    assert _alarm_versions(stack) == {"p99": {"1"}, "error-rate": {"1"}}
    assert run.report["alarms_followed"] == []


# --- fail closed on CloudWatch errors ------------------------------------------------------------


class BrokenCloudWatch:
    """The test's CloudWatch client, with get_metric_data failing on the calls `broken` names (by
    1-based call number; None: every call), either raising or answering InternalError for Errors."""

    def __init__(self, client: Any, mode: str, broken: set[int] | None = None) -> None:
        self._client = client
        self.mode = mode
        self.broken = broken
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_metric_data(self, **request: Any) -> Any:
        self.calls += 1
        if self.broken is not None and self.calls not in self.broken:
            return self._client.get_metric_data(**request)
        if self.mode == "raise":
            error = {"Error": {"Code": "InternalServiceError", "Message": "try later"}}
            raise ClientError(error, "GetMetricData")
        response = self._client.get_metric_data(**request)
        for result in response["MetricDataResults"]:
            if result["Id"].startswith("err_"):
                result["StatusCode"], result["Values"] = "InternalError", []
        return response


@pytest.mark.parametrize("mode", ["raise", "internal-error"])
def test_a_query_that_keeps_failing_fails_the_step(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, mode: str
):
    # GIVEN healthy traffic, and CloudWatch refusing every query (or never completing the Errors one)
    steady_traffic({"2": (10, 0), "1": (90, 0)})

    # WHEN promoting
    run = run_promote(_canary(2), p99_ms=HEALTHY_P99, cloudwatch=lambda c: BrokenCloudWatch(c, mode))

    # THEN it waited while the step ran, then failed closed at its end and rolled back, saying why
    assert run.code == 1, run.lines
    assert stack.alias() == {"version": "1", "weights": {}}
    readings = run.report["steps"][0]["readings"]
    assert [r["verdict"] for r in readings] == ["wait", "wait", "fail"]
    expected = "get_metric_data failed" if mode == "raise" else "err_v2: StatusCode InternalError"
    assert "incomplete CloudWatch data" in run.report["reason"] and expected in run.report["reason"]
    assert readings[-1]["problems"]


def test_a_passing_query_error_does_not_fail_the_step(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN CloudWatch failing only the second query of the step
    steady_traffic({"2": (10, 0), "1": (90, 0)})

    # WHEN promoting
    run = run_promote(_canary(2), p99_ms=HEALTHY_P99, cloudwatch=lambda c: BrokenCloudWatch(c, "raise", {2}))

    # THEN that reading waited, and the complete last reading passed
    assert run.code == 0, run.lines
    assert [r["verdict"] for r in run.report["steps"][0]["readings"]] == ["wait", "wait", "pass"]
