"""The per-version CloudWatch query (exact request, via Stubber: the dimension set is the contract;
for the EMF ServerErrors, the namespace too, which moto does not match) and the gate verdicts as pure
functions."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from fnkit_ops.promote.gates import (
    GateConfig,
    GateResult,
    InsufficientDataPolicy,
    InsufficientTrafficPolicy,
    Verdict,
    combine,
    judge_alarms,
    judge_health,
)
from fnkit_ops.promote.metrics import CloudWatchMetricsReader, EmfErrorSource, VersionMetrics, window

START = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
END = datetime(2026, 1, 1, 12, 4, 10, tzinfo=UTC)


def _query(prefix: str, metric: str, stat: str, version: str, period: int) -> dict[str, object]:
    return {
        "Id": f"{prefix}_v{version}",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Lambda",
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "FunctionName", "Value": "fn"},
                    {"Name": "Resource", "Value": "fn:live"},
                    {"Name": "ExecutedVersion", "Value": version},
                ],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def test_window_aligns_to_minutes_with_one_period():
    # WHEN aligning 12:00:30 .. 12:04:10
    start, end, period = window(START, END)

    # THEN 12:00 .. 12:05, one 300 s period
    assert (start.minute, start.second, end.minute, period) == (0, 0, 5, 300)


def test_reader_queries_each_version_by_executed_version_and_pages():
    # GIVEN CloudWatch answering in two pages
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    queries = [
        _query(prefix, metric, stat, version, 300)
        for version in ("2", "1")
        for prefix, metric, stat in (
            ("inv", "Invocations", "Sum"),
            ("err", "Errors", "Sum"),
            ("p99", "Duration", "p99"),
        )
    ]
    expected = {
        "MetricDataQueries": queries,
        "StartTime": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        "EndTime": datetime(2026, 1, 1, 12, 5, tzinfo=UTC),
    }
    with Stubber(client) as stubber:
        stubber.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "inv_v2", "Values": [40.0], "StatusCode": "Complete"},
                    {"Id": "err_v2", "Values": [2.0], "StatusCode": "Complete"},
                    {"Id": "p99_v2", "Values": [120.0], "StatusCode": "Complete"},
                ],
                "NextToken": "page-2",
            },
            expected,
        )
        stubber.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "inv_v1", "Values": [360.0], "StatusCode": "Complete"},
                    {"Id": "err_v1", "Values": [], "StatusCode": "Complete"},
                    {"Id": "p99_v1", "Values": [100.0], "StatusCode": "Complete"},
                ]
            },
            {**expected, "NextToken": "page-2"},
        )

        # WHEN reading versions 2 (new) and 1 (old)
        numbers = CloudWatchMetricsReader(client, "fn", "live").read(
            ["2", "1"], START, END, with_latency=True
        )

        # THEN both pages were read, per version
        stubber.assert_no_pending_responses()
    assert numbers["2"] == VersionMetrics("2", 40.0, 2.0, 120.0)
    assert numbers["1"] == VersionMetrics("1", 360.0, 0.0, 100.0)
    assert numbers["2"].error_rate == 0.05


def _server_errors_query(version: str, period: int) -> dict[str, object]:
    return {
        "Id": f"srv_v{version}",
        "MetricStat": {
            "Metric": {
                "Namespace": "fnkit",
                "MetricName": "ServerErrors",
                "Dimensions": [
                    {"Name": "service", "Value": "fnkit"},
                    {"Name": "model", "Value": "digits"},
                    {"Name": "function_version", "Value": version},
                ],
            },
            "Period": period,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }


def test_reader_adds_emf_server_errors_to_lambda_errors_in_the_same_call():
    # GIVEN CloudWatch holding 2 Lambda Errors and 30 ServerErrors for version 2, none for version 1
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    queries = [
        query
        for version in ("2", "1")
        for query in (
            _query("inv", "Invocations", "Sum", version, 300),
            _query("err", "Errors", "Sum", version, 300),
            _server_errors_query(version, 300),
        )
    ]
    expected = {
        "MetricDataQueries": queries,
        "StartTime": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        "EndTime": datetime(2026, 1, 1, 12, 5, tzinfo=UTC),
    }
    results = [
        {"Id": "inv_v2", "Values": [40.0], "StatusCode": "Complete"},
        {"Id": "err_v2", "Values": [2.0], "StatusCode": "Complete"},
        {"Id": "srv_v2", "Values": [30.0], "StatusCode": "Complete"},
        {"Id": "inv_v1", "Values": [360.0], "StatusCode": "Complete"},
        {"Id": "err_v1", "Values": [], "StatusCode": "Complete"},
        {"Id": "srv_v1", "Values": [], "StatusCode": "Complete"},
    ]
    emf = EmfErrorSource(namespace="fnkit", service="fnkit", model="digits")
    with Stubber(client) as stubber:
        stubber.add_response("get_metric_data", {"MetricDataResults": results}, expected)

        # WHEN reading both versions with the EMF source
        numbers = CloudWatchMetricsReader(client, "fn", "live", emf=emf).read(
            ["2", "1"], START, END, with_latency=False
        )

        # THEN one call, with the ServerErrors of each version by function_version
        stubber.assert_no_pending_responses()
    assert numbers["2"] == VersionMetrics("2", 40.0, 32.0, None, server_errors=30.0)
    assert numbers["2"].lambda_errors == 2.0 and numbers["2"].error_rate == 0.8
    # AND no ServerErrors data is zero errors, not unknown
    assert numbers["1"] == VersionMetrics("1", 360.0, 0.0, None, server_errors=0.0)


def test_reader_skips_the_latency_query_when_no_latency_gate_is_on():
    # GIVEN the reader's queries without latency
    reader = CloudWatchMetricsReader(None, "fn", "live")

    # WHEN building them
    ids = [q["Id"] for q in reader.queries(["2"], 60, with_latency=False)]

    # THEN only the two counts
    assert ids == ["inv_v2", "err_v2"]


@pytest.mark.parametrize(
    ("states", "policy", "final", "verdict"),
    [
        pytest.param({"a": "OK"}, InsufficientDataPolicy.WAIT, False, Verdict.PASS, id="ok"),
        pytest.param(
            {"a": "ALARM"}, InsufficientDataPolicy.IGNORE, False, Verdict.FAIL, id="alarm-always-fails"
        ),
        pytest.param({"a": "INSUFFICIENT_DATA"}, InsufficientDataPolicy.FAIL, False, Verdict.FAIL, id="fail"),
        pytest.param({"a": "INSUFFICIENT_DATA"}, InsufficientDataPolicy.WAIT, False, Verdict.WAIT, id="wait"),
        pytest.param(
            {"a": "INSUFFICIENT_DATA"}, InsufficientDataPolicy.WAIT, True, Verdict.FAIL, id="wait-final"
        ),
        pytest.param(
            {"a": "INSUFFICIENT_DATA"}, InsufficientDataPolicy.IGNORE, True, Verdict.PASS, id="ignore"
        ),
        pytest.param({}, InsufficientDataPolicy.FAIL, True, Verdict.PASS, id="no-alarms"),
    ],
)
def test_alarm_verdicts(
    states: dict[str, str], policy: InsufficientDataPolicy, final: bool, verdict: Verdict
):
    assert judge_alarms(states, policy, final).verdict is verdict


NEW_OK = VersionMetrics("2", 100, 0, 100.0)
OLD_OK = VersionMetrics("1", 900, 9, 100.0)


@pytest.mark.parametrize(
    ("new", "old", "config", "final", "verdict"),
    [
        pytest.param(NEW_OK, OLD_OK, GateConfig(), False, Verdict.PASS, id="healthy"),
        pytest.param(
            VersionMetrics("2", 5, 0, 100.0), OLD_OK, GateConfig(), False, Verdict.WAIT, id="few-wait"
        ),
        pytest.param(
            VersionMetrics("2", 5, 0, 100.0), OLD_OK, GateConfig(), True, Verdict.FAIL, id="few-final"
        ),
        pytest.param(
            VersionMetrics("2", 5, 0, 100.0),
            OLD_OK,
            GateConfig(insufficient_traffic=InsufficientTrafficPolicy.PASS),
            True,
            Verdict.PASS,
            id="few-final-pass-policy",
        ),
        pytest.param(
            VersionMetrics("2", 100, 2, 100.0), OLD_OK, GateConfig(), False, Verdict.FAIL, id="errors"
        ),
        pytest.param(
            VersionMetrics("2", 100, 3, 100.0),
            OLD_OK,
            GateConfig(max_error_rate=0.5),
            False,
            Verdict.FAIL,
            id="errors-vs-old",
        ),
        pytest.param(
            VersionMetrics("2", 100, 3, 100.0),
            VersionMetrics("1", 5, 0, 100.0),
            GateConfig(max_error_rate=0.5),
            False,
            Verdict.PASS,
            id="old-too-small-to-compare",
        ),
        pytest.param(
            VersionMetrics("2", 100, 0, 151.0), OLD_OK, GateConfig(), False, Verdict.FAIL, id="p99-ratio"
        ),
        pytest.param(
            VersionMetrics("2", 100, 0, 151.0),
            OLD_OK,
            GateConfig(max_p99_ratio=None),
            False,
            Verdict.PASS,
            id="ratio-off",
        ),
        pytest.param(
            VersionMetrics("2", 100, 0, None), OLD_OK, GateConfig(), False, Verdict.WAIT, id="no-p99-yet"
        ),
        pytest.param(
            VersionMetrics("2", 100, 0, None), OLD_OK, GateConfig(), True, Verdict.FAIL, id="no-p99-final"
        ),
    ],
)
def test_health_verdicts(
    new: VersionMetrics, old: VersionMetrics, config: GateConfig, final: bool, verdict: Verdict
):
    result = judge_health(new, old, config, final)
    assert result.verdict is verdict, result.reasons


def test_combine_fail_beats_wait_beats_pass():
    fail, wait, ok = (
        GateResult(Verdict.FAIL, ("f",)),
        GateResult(Verdict.WAIT, ("w",)),
        GateResult(Verdict.PASS),
    )
    assert combine(ok, wait, fail) == GateResult(Verdict.FAIL, ("f",))
    assert combine(ok, wait) == GateResult(Verdict.WAIT, ("w",))
    assert combine(ok, ok).verdict is Verdict.PASS
