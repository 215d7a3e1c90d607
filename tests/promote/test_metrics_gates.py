"""The per-version CloudWatch query (exact request, via Stubber: the dimension set is the contract;
for the EMF metrics, the namespace too, which moto does not match), failing closed on query errors and
partial data, and the gate verdicts as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from fnkit_ops.promote.alarms import judge_alarms
from fnkit_ops.promote.gates import (
    GateConfig,
    GateResult,
    InsufficientDataPolicy,
    InsufficientTrafficPolicy,
    Verdict,
    combine,
    judge_health,
    judge_reading,
)
from fnkit_ops.promote.metrics import (
    CloudWatchMetricsReader,
    EmfSource,
    MetricsReading,
    VersionMetrics,
    window,
)

START = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
END = datetime(2026, 1, 1, 12, 4, 10, tzinfo=UTC)


def _stat_query(
    prefix: str,
    metric: str,
    stat: str,
    version: str,
    period: int,
    *,
    namespace: str,
    dimensions: dict[str, str],
) -> dict[str, object]:
    """The GetMetricData query of one statistic of one version: the exact request is the contract."""
    return {
        "Id": f"{prefix}_v{version}",
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _query(prefix: str, metric: str, stat: str, version: str, period: int) -> dict[str, object]:
    dimensions = {"FunctionName": "fn", "Resource": "fn:live", "ExecutedVersion": version}
    return _stat_query(prefix, metric, stat, version, period, namespace="AWS/Lambda", dimensions=dimensions)


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
            ("dur", "Duration", "p99"),
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
                    {"Id": "dur_v2", "Values": [120.0], "StatusCode": "Complete"},
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
                    {"Id": "dur_v1", "Values": [100.0], "StatusCode": "Complete"},
                ]
            },
            {**expected, "NextToken": "page-2"},
        )

        # WHEN reading versions 2 (new) and 1 (old)
        numbers = CloudWatchMetricsReader(client, "fn", "live").read(
            ["2", "1"], START, END, with_latency=True
        )

        # THEN both pages were read, per version, and the reading is complete
        stubber.assert_no_pending_responses()
    assert numbers.problems == ()
    assert numbers.numbers["2"] == VersionMetrics("2", 40.0, 2.0, 120.0)
    assert numbers.numbers["1"] == VersionMetrics("1", 360.0, 0.0, 100.0)
    assert numbers.numbers["2"].error_rate == 0.05


def _emf_query(prefix: str, metric: str, stat: str, version: str, period: int) -> dict[str, object]:
    dimensions = {"service": "fnkit", "model": "digits", "function_version": version}
    return _stat_query(prefix, metric, stat, version, period, namespace="fnkit", dimensions=dimensions)


EMF_QUERIES = (
    ("req", "Requests", "Sum"),
    ("srv", "ServerErrors", "Sum"),
    ("cli", "ClientErrors", "Sum"),
    ("load", "ModelLoadTime", "SampleCount"),
    ("loadavg", "ModelLoadTime", "Average"),
    ("loadmax", "ModelLoadTime", "Maximum"),
    ("inf", "InferenceTime", "p99"),
    ("infn", "InferenceTime", "SampleCount"),
)


def _cloudwatch() -> object:
    return boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_reader_judges_each_version_on_its_emf_metrics_in_the_same_call():
    # GIVEN CloudWatch holding, for version 2, 40 Lambda invocations with 2 crashes, 30 EMF Requests
    # (8 were health checks) of which 20 answered 5xx and 3 answered 4xx, and 5 cold starts; nothing
    # but requests for version 1
    client = _cloudwatch()
    queries = [
        query
        for version in ("2", "1")
        for query in (
            _query("inv", "Invocations", "Sum", version, 300),
            _query("err", "Errors", "Sum", version, 300),
            *(_emf_query(p, m, st, version, 300) for p, m, st in EMF_QUERIES),
        )
    ]
    expected = {
        "MetricDataQueries": queries,
        "StartTime": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        "EndTime": datetime(2026, 1, 1, 12, 5, tzinfo=UTC),
    }
    values = {
        "inv_v2": [40.0], "err_v2": [2.0], "req_v2": [30.0], "srv_v2": [20.0], "cli_v2": [3.0],
        "load_v2": [5.0], "loadavg_v2": [150.0], "loadmax_v2": [190.0], "inf_v2": [7.5], "infn_v2": [7.0],
        "inv_v1": [360.0], "req_v1": [360.0], "inf_v1": [6.0], "infn_v1": [360.0],
    }  # fmt: skip
    results = [
        {"Id": q["Id"], "Values": values.get(str(q["Id"]), []), "StatusCode": "Complete"} for q in queries
    ]
    emf = EmfSource(namespace="fnkit", service="fnkit", model="digits")
    with Stubber(client) as stubber:
        stubber.add_response("get_metric_data", {"MetricDataResults": results}, expected)

        # WHEN reading both versions with the EMF source
        reading = CloudWatchMetricsReader(client, "fn", "live", emf=emf).read(
            ["2", "1"], START, END, with_latency=True
        )

        # THEN one call, with each version's EMF numbers by function_version
        stubber.assert_no_pending_responses()
    new, old = reading.numbers["2"], reading.numbers["1"]
    assert reading.problems == ()
    # work = requests + crashes (a crash flushes no EMF); errors = crashes + 5xx
    assert (new.work, new.errors, new.error_rate) == (32.0, 22.0, 22.0 / 32.0)
    assert new.client_error_rate == 3.0 / 32.0
    assert (new.p99_ms, new.latency_samples) == (7.5, 7.0)
    assert (new.cold_starts, new.model_load_avg_ms, new.model_load_max_ms) == (5.0, 150.0, 190.0)
    # AND no EMF error data is zero errors, not unknown
    assert (old.errors, old.client_errors, old.cold_starts, old.model_load_max_ms) == (0.0, 0.0, 0.0, None)


def _one_version_results(status: str = "Complete", **extra: object) -> list[dict[str, object]]:
    return [
        {"Id": "inv_v2", "Values": [40.0], "StatusCode": "Complete"},
        {"Id": "err_v2", "Values": [], "StatusCode": status, **extra},
    ]


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        pytest.param(
            {"MetricDataResults": _one_version_results("InternalError")},
            "err_v2: StatusCode InternalError",
            id="internal-error",
        ),
        pytest.param(
            {"MetricDataResults": _one_version_results("PartialData")},
            "err_v2: StatusCode PartialData",
            id="partial-data",
        ),
        pytest.param(
            {"MetricDataResults": _one_version_results()[:1]},
            "err_v2: no result returned",
            id="missing-result",
        ),
        pytest.param(
            {
                "MetricDataResults": _one_version_results(),
                "Messages": [{"Code": "MaxMetricsExceeded", "Value": "too many"}],
            },
            "message MaxMetricsExceeded",
            id="response-message",
        ),
        pytest.param(
            {"MetricDataResults": _one_version_results(Messages=[{"Code": "Forbidden", "Value": "no"}])},
            "err_v2: message Forbidden",
            id="result-message",
        ),
    ],
)
def test_reader_reports_incomplete_data_instead_of_zeros(response: dict[str, object], problem: str):
    # GIVEN CloudWatch answering with data it says is incomplete, or with a query's result missing
    client = _cloudwatch()
    with Stubber(client) as stubber:
        stubber.add_response("get_metric_data", response)

        # WHEN reading
        reading = CloudWatchMetricsReader(client, "fn", "live").read(["2"], START, END, with_latency=False)

    # THEN the reading says why it cannot be trusted
    assert any(problem in p for p in reading.problems), reading.problems


def test_reader_turns_a_query_error_into_a_problem():
    # GIVEN CloudWatch refusing the query
    client = _cloudwatch()
    with Stubber(client) as stubber:
        stubber.add_client_error("get_metric_data", "InternalServiceError", "try later", 500)

        # WHEN reading
        reading = CloudWatchMetricsReader(client, "fn", "live").read(["2"], START, END, with_latency=False)

    # THEN no numbers, and the error is the reason
    assert reading.numbers == {}
    assert reading.problems and "get_metric_data failed" in reading.problems[0]
    assert "InternalServiceError" in reading.problems[0]


@pytest.mark.parametrize(("final", "verdict"), [(False, Verdict.WAIT), (True, Verdict.FAIL)])
def test_incomplete_data_never_passes(final: bool, verdict: Verdict):
    # GIVEN healthy-looking numbers the reader could not complete
    reading = MetricsReading({"2": NEW_OK, "1": OLD_OK}, ("err_v2: StatusCode InternalError",))

    # WHEN judged
    result = judge_reading(reading, "2", "1", GateConfig(), final)

    # THEN wait while the step runs, fail at its end, saying why
    assert result.verdict is verdict
    assert result.reasons == ("incomplete CloudWatch data: err_v2: StatusCode InternalError",)


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
NEW_FEW = VersionMetrics("2", 5, 0, 100.0)
NEW_2_ERRORS = VersionMetrics("2", 100, 2, 100.0)
NEW_3_ERRORS = VersionMetrics("2", 100, 3, 100.0)
NEW_SLOW_P99 = VersionMetrics("2", 100, 0, 151.0)
NEW_NO_P99 = VersionMetrics("2", 100, 0, None)
OLD_FEW = VersionMetrics("1", 5, 0, 100.0)
EMF = EmfSource("fnkit", "fnkit", "digits")
_EMF_COUNTS = {"server_errors": 0.0, "cold_starts": 1.0}
EMF_NEW = VersionMetrics(
    "2", 130, 0, requests=100, client_errors=2, inference_p99_ms=6.2, inference_samples=98, **_EMF_COUNTS
)
EMF_OLD = VersionMetrics(
    "1", 950, 0, requests=900, client_errors=18, inference_p99_ms=6.0, inference_samples=882, **_EMF_COUNTS
)
EMF_NEW_4XX = VersionMetrics(
    "2", 130, 0, requests=100, client_errors=40, inference_p99_ms=6.2, inference_samples=60, **_EMF_COUNTS
)
EMF_NEW_FEW_SAMPLES = VersionMetrics(
    "2", 130, 0, requests=100, client_errors=2, inference_p99_ms=6.2, inference_samples=5, **_EMF_COUNTS
)
EMF_NEW_SLOW = VersionMetrics(
    "2", 130, 0, requests=100, client_errors=2, inference_p99_ms=9.5, inference_samples=98, **_EMF_COUNTS
)


@pytest.mark.parametrize(
    ("new", "old", "config", "final", "verdict"),
    [
        pytest.param(NEW_OK, OLD_OK, GateConfig(), False, Verdict.PASS, id="healthy"),
        pytest.param(NEW_FEW, OLD_OK, GateConfig(), False, Verdict.WAIT, id="few-wait"),
        pytest.param(NEW_FEW, OLD_OK, GateConfig(), True, Verdict.FAIL, id="few-final"),
        pytest.param(
            NEW_FEW,
            OLD_OK,
            GateConfig(insufficient_traffic=InsufficientTrafficPolicy.PASS),
            True,
            Verdict.PASS,
            id="few-final-pass-policy",
        ),
        pytest.param(NEW_2_ERRORS, OLD_OK, GateConfig(), False, Verdict.FAIL, id="errors"),
        pytest.param(
            NEW_3_ERRORS, OLD_OK, GateConfig(max_error_rate=0.5), False, Verdict.FAIL, id="errors-vs-old"
        ),
        pytest.param(
            NEW_3_ERRORS,
            OLD_FEW,
            GateConfig(max_error_rate=0.5),
            False,
            Verdict.PASS,
            id="old-too-small-to-compare",
        ),
        pytest.param(NEW_SLOW_P99, OLD_OK, GateConfig(), False, Verdict.FAIL, id="p99-ratio"),
        pytest.param(
            NEW_SLOW_P99, OLD_OK, GateConfig(max_p99_ratio=None), False, Verdict.PASS, id="ratio-off"
        ),
        pytest.param(NEW_NO_P99, OLD_OK, GateConfig(), False, Verdict.WAIT, id="no-p99-yet"),
        pytest.param(NEW_NO_P99, OLD_OK, GateConfig(), True, Verdict.FAIL, id="no-p99-final"),
        pytest.param(EMF_NEW, EMF_OLD, GateConfig(emf=EMF), False, Verdict.PASS, id="emf-healthy"),
        pytest.param(
            EMF_NEW_4XX, EMF_OLD, GateConfig(emf=EMF), False, Verdict.FAIL, id="emf-4xx-over-ceiling"
        ),
        pytest.param(
            EMF_NEW_4XX,
            EMF_OLD,
            GateConfig(emf=EMF, max_client_error_rate=0.5, max_client_error_rate_delta=None),
            False,
            Verdict.PASS,
            id="emf-4xx-gates-loosened",
        ),
        pytest.param(
            EMF_NEW_FEW_SAMPLES,
            EMF_OLD,
            GateConfig(emf=EMF),
            False,
            Verdict.WAIT,
            id="emf-few-latency-samples",
        ),
        pytest.param(
            EMF_NEW_FEW_SAMPLES,
            EMF_OLD,
            GateConfig(emf=EMF, insufficient_traffic=InsufficientTrafficPolicy.PASS),
            True,
            Verdict.PASS,
            id="emf-few-latency-samples-pass-policy",
        ),
        pytest.param(
            EMF_NEW_SLOW, EMF_OLD, GateConfig(emf=EMF), False, Verdict.FAIL, id="emf-slow-inference"
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
