"""The function's own EMF metrics in the gates (`--emf-namespace/--emf-service/--emf-model`).

fnkit's handler catches every exception and answers 4xx/5xx, so Lambda's `Errors` counts only crashes
and timeouts: a version whose model fails to load answers 500 to everything, and one with a routing
bug or lowered limits answers 400/404, and Lambda calls each invocation a success. Lambda's
Invocations count health checks and warm-ups, and its Duration holds a cold start's model load. The
function's EMF `Requests`, `ClientErrors`, `ServerErrors`, `InferenceTime` and `ModelLoadTime`
(namespace fnkit; service, model, function_version) see what users suffer. End to end against moto,
with the fake clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from .conftest import EMF, EMF_FLAGS, FUNCTION, FakeClock, Stack, put_server_errors

HEALTHY_P99 = {"1": 100.0, "2": 110.0}
WARM_P99 = {"1": 6.0, "2": 6.2}
"""p99 InferenceTime (ms) of each version: the same warm work."""
# Per minute: the new version has 1 Lambda Error (a crash: no EMF flushed) in 200 invocations (0.5 %,
# like the old version: under --max-error-rate 1 % and within --max-error-rate-delta), but answered
# 150 of the other 199 with a 500.
LAMBDA_TRAFFIC = {"2": (200, 1), "1": (1800, 9)}
SERVER_ERRORS = {"2": 150, "1": 3}
EMF_TRAFFIC = {
    "2": {"requests": 199, "server_errors": 150, "inferences": 49},
    "1": {"requests": 1791, "server_errors": 3, "inferences": 1788},
}


def _canary(*extra: str) -> list[str]:
    return ["--function", FUNCTION, "--version", "2", "--strategy", "canary:10:5", *extra]


def test_canary_answering_5xx_is_rolled_back_with_the_emf_flags(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, steady_emf: Any
):
    # GIVEN a canary with few Lambda Errors but many 5xx answers (EMF ServerErrors)
    steady_traffic(LAMBDA_TRAFFIC)
    steady_emf(EMF_TRAFFIC)

    # WHEN promoting with the function's EMF source named
    run = run_promote(_canary(*EMF_FLAGS), p99_ms=HEALTHY_P99, inference_p99_ms=WARM_P99)

    # THEN the first reading with --min-invocations fails and the alias goes back to version 1
    assert run.code == 1, run.lines
    assert run.weights == [0.1, 0.0]
    assert stack.alias() == {"version": "1", "weights": {}}
    assert clock.elapsed == 60
    assert run.report["outcome"] == "rolled_back"
    assert "1 Lambda Errors + 150 ServerErrors" in run.report["reason"]
    assert "--max-error-rate" in run.report["reason"]
    # AND the reading records what was judged, for the new and the old version
    new = run.report["steps"][0]["readings"][-1]["new"]
    assert (new["invocations"], new["requests"], new["lambda_errors"]) == (200.0, 199.0, 1.0)
    assert (new["work"], new["server_errors"], new["errors"], new["error_rate"]) == (
        200.0,
        150.0,
        151.0,
        0.755,
    )
    old = run.report["steps"][0]["readings"][-1]["old"]
    assert (old["lambda_errors"], old["server_errors"], old["work"]) == (9.0, 3.0, 1800.0)
    assert run.report["gates"]["emf"] == {
        "namespace": "fnkit",
        "service": "fnkit",
        "model": "digits",
        "metrics": ["Requests", "ClientErrors", "ServerErrors", "InferenceTime", "ModelLoadTime"],
    }


def test_without_the_emf_flags_the_same_canary_passes(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, steady_emf: Any
):
    # GIVEN the same canary answering 75 % of its requests with a 500
    steady_traffic(LAMBDA_TRAFFIC)
    steady_emf(EMF_TRAFFIC)

    # WHEN promoting on Lambda's metrics alone
    run = run_promote(_canary(), p99_ms=HEALTHY_P99)

    # THEN it is promoted: the blind spot the flags close (Lambda's Errors never sees a 5xx answer)
    assert run.code == 0, run.lines
    assert stack.alias() == {"version": "2", "weights": {}}
    reading = run.report["steps"][0]["readings"][-1]
    assert reading["new"]["errors"] == 5.0 and reading["new"]["server_errors"] is None
    assert run.report["gates"]["emf"] is None


def test_no_emf_errors_count_as_zero_errors(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, steady_emf: Any
):
    # GIVEN clean traffic, and ServerErrors only under another service and another model (the
    # function emits ServerErrors only when an error happens: this version never emitted any)
    steady_traffic({"2": (10, 0), "1": (90, 0)})
    steady_emf({"2": {"requests": 10, "inferences": 10}, "1": {"requests": 90, "inferences": 90}})
    for other in (
        type(EMF)(EMF.namespace, "another-stack", EMF.model),
        type(EMF)(EMF.namespace, EMF.service, "minilm"),
    ):
        put_server_errors(stack.cw, "2", clock.now + timedelta(minutes=1), 500, source=other)

    # WHEN promoting with the EMF flags
    run = run_promote(_canary(*EMF_FLAGS), inference_p99_ms=WARM_P99)

    # THEN promoted, with zero ServerErrors read for both versions (not unknown, not another's)
    assert run.code == 0, run.lines
    assert stack.alias() == {"version": "2", "weights": {}}
    readings = run.report["steps"][0]["readings"]
    assert all(r["new"]["server_errors"] == 0.0 and r["old"]["server_errors"] == 0.0 for r in readings)
    assert readings[-1]["verdict"] == "pass" and readings[-1]["new"]["requests"] == 50


@pytest.mark.parametrize(
    ("new_4xx", "extra", "code", "expected"),
    [
        pytest.param(200, [], 1, "--max-client-error-rate", id="answers-400-to-everything"),
        pytest.param(30, [], 1, "--max-client-error-rate", id="over-the-ceiling"),
        pytest.param(
            12, ["--max-client-error-rate", "0.5"], 1, "--max-client-error-rate-delta", id="regression-vs-old"
        ),
        pytest.param(3, [], 0, None, id="as-old-as-the-old-version"),
    ],
)
def test_a_4xx_regression_is_rolled_back(
    stack: Stack,
    clock: FakeClock,
    run_promote: Any,
    steady_traffic: Any,
    steady_emf: Any,
    new_4xx: int,
    extra: list[str],
    code: int,
    expected: str | None,
):
    # GIVEN per minute 200 requests each way, the old version answering 3 % with a 4xx (clients' bad
    # requests), the new one `new_4xx` of 200 (a routing bug, lowered limits...): Lambda sees no error
    steady_traffic({"2": (200, 0), "1": (200, 0)})
    steady_emf(
        {
            "2": {"requests": 200, "client_errors": new_4xx, "inferences": 200 - new_4xx},
            "1": {"requests": 200, "client_errors": 6, "inferences": 194},
        }
    )

    # WHEN promoting with the EMF flags
    run = run_promote(_canary(*EMF_FLAGS, *extra), inference_p99_ms=WARM_P99)

    # THEN rolled back at the first reading when the share is over the ceiling or the old version's
    # share + the delta, with the numbers in the reason; promoted when it is like the old version's
    assert run.code == code, run.lines
    if expected is None:
        assert stack.alias() == {"version": "2", "weights": {}}
        return
    assert stack.alias() == {"version": "1", "weights": {}}
    assert clock.elapsed == 60
    assert expected in run.report["reason"] and "4xx" in run.report["reason"]
    new = run.report["steps"][0]["readings"][-1]["new"]
    assert new["client_errors"] == new_4xx and new["client_error_rate"] == new_4xx / 200


def test_health_checks_and_warmups_are_not_canary_traffic(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, steady_emf: Any
):
    # GIVEN a canary whose only callers are a load balancer's health checks and scheduled warm-ups:
    # 30 Lambda invocations a minute, none of them a request
    steady_traffic({"2": (30, 0), "1": (300, 0)})
    steady_emf({"1": {"requests": 270, "inferences": 270}})

    # WHEN promoting with the EMF flags
    run = run_promote(_canary(*EMF_FLAGS), inference_p99_ms=WARM_P99)

    # THEN the canary had no requests, and the default --insufficient-traffic fail rolls it back
    assert run.code == 1, run.lines
    assert stack.alias() == {"version": "1", "weights": {}}
    reason = run.report["reason"]
    assert "had 0 requests" in reason and "Lambda counted 150 invocations but no EMF Requests" in reason


def test_a_p99_made_of_cold_starts_passes_on_warm_inference_time(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, steady_emf: Any
):
    # GIVEN a canary whose p99 Duration is its cold starts' model loads (180 ms vs 6 ms warm, as
    # minilm), with warm inference as fast as the old version's
    steady_traffic({"2": (10, 0), "1": (90, 0)})
    steady_emf(
        {
            "2": {
                "requests": 10,
                "inferences": 10,
                "inference_ms": 6.2,
                "model_loads": 1,
                "model_load_ms": 175.0,
            },
            "1": {"requests": 90, "inferences": 90, "inference_ms": 6.0},
        }
    )
    cold_duration = {"1": 6.5, "2": 180.0}

    # WHEN promoting on the EMF metrics
    run = run_promote(_canary(*EMF_FLAGS), p99_ms=cold_duration, inference_p99_ms=WARM_P99)

    # THEN promoted: latency is judged on InferenceTime; the cold starts are in the report
    assert run.code == 0, run.lines
    assert stack.alias() == {"version": "2", "weights": {}}
    new = run.report["steps"][0]["readings"][-1]["new"]
    assert new["latency_metric"] == "InferenceTime" and new["p99_ms"] == 6.2
    assert new["inference_samples"] == 50
    assert (new["cold_starts"], new["model_load_max_ms"], new["model_load_avg_ms"]) == (5.0, 175.0, 175.0)
    assert run.report["gates"]["latency_metric"] == "InferenceTime"


def test_the_same_cold_starts_fail_a_duration_gate(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN the same canary judged without the EMF flags, on Lambda's Duration
    steady_traffic({"2": (10, 0), "1": (90, 0)})

    # WHEN promoting
    run = run_promote(_canary(), p99_ms={"1": 6.5, "2": 180.0})

    # THEN its cold starts decide: rolled back by --max-p99-ratio (why the EMF source is the one CI uses)
    assert run.code == 1, run.lines
    assert "p99 Duration 180.0 ms" in run.report["reason"] and "--max-p99-ratio" in run.report["reason"]


def test_too_few_latency_samples_wait_then_follow_the_traffic_policy(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, steady_emf: Any
):
    # GIVEN enough requests but only 2 answered predictions a minute (10 in the step, fewer than 20)
    steady_traffic({"2": (10, 0), "1": (90, 0)})
    steady_emf({"2": {"requests": 10, "inferences": 2}, "1": {"requests": 90, "inferences": 90}})

    # WHEN promoting
    run = run_promote(
        _canary(*EMF_FLAGS, "--max-client-error-rate", "1", "--max-client-error-rate-delta", "off"),
        inference_p99_ms=WARM_P99,
    )

    # THEN the p99 is never judged on 10 samples: it waited, then failed by --insufficient-traffic fail
    assert run.code == 1, run.lines
    assert "fewer than --min-latency-samples 20" in run.report["reason"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(["--emf-namespace", "fnkit"], "missing --emf-service, --emf-model", id="namespace-only"),
        pytest.param(
            ["--emf-namespace", "fnkit", "--emf-service", "fnkit"], "missing --emf-model", id="no-model"
        ),
        pytest.param(["--emf-model", "digits"], "missing --emf-namespace, --emf-service", id="model-only"),
        pytest.param(
            ["--emf-namespace", "", "--emf-service", "fnkit", "--emf-model", "digits"],
            "--emf-namespace '' is empty",
            id="empty-namespace",
        ),
        pytest.param(
            ["--emf-namespace", "AWS/Lambda", "--emf-service", "fnkit", "--emf-model", "digits"],
            "is an AWS namespace",
            id="aws-namespace",
        ),
    ],
)
def test_partial_or_malformed_emf_flags_are_exit_2_with_nothing_changed(
    stack: Stack, clock: FakeClock, run_promote: Any, flags: list[str], message: str
):
    # WHEN promoting with an incomplete or malformed EMF source
    run = run_promote(_canary(*flags))

    # THEN a usage error before anything moved
    assert run.code == 2
    assert stack.alias() == {"version": "1", "weights": {}}
    assert clock.sleeps == []
    assert run.report["outcome"] == "precondition_failed"
    assert message in run.report["reason"]
