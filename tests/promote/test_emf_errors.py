"""The function's own 5xx count in the health gate (`--emf-namespace/--emf-service/--emf-model`).

fnkit's handler catches every exception and answers 5xx, so Lambda's `Errors` counts only crashes and
timeouts: a version whose model fails to load answers 500 to everything and Lambda calls each
invocation a success. Its EMF `ServerErrors` (namespace fnkit; service, model, function_version) is
what sees it. End to end against moto, with the fake clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from .conftest import EMF, EMF_FLAGS, FUNCTION, FakeClock, Stack, put_server_errors

HEALTHY_P99 = {"1": 100.0, "2": 110.0}
# Per minute: the new version has 1 Lambda Error in 200 invocations (0.5 %, like the old version:
# under --max-error-rate 1 % and within --max-error-rate-delta), but answered 150 of them with a 500.
LAMBDA_TRAFFIC = {"2": (200, 1), "1": (1800, 9)}
SERVER_ERRORS = {"2": 150, "1": 3}


def _canary(*extra: str) -> list[str]:
    return ["--function", FUNCTION, "--version", "2", "--strategy", "canary:10:5", *extra]


def test_canary_answering_5xx_is_rolled_back_with_the_emf_flags(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, steady_server_errors: Any
):
    # GIVEN a canary with few Lambda Errors but many 5xx answers (EMF ServerErrors)
    steady_traffic(LAMBDA_TRAFFIC)
    steady_server_errors(SERVER_ERRORS)

    # WHEN promoting with the function's EMF source named
    run = run_promote(_canary(*EMF_FLAGS), p99_ms=HEALTHY_P99)

    # THEN the first reading with --min-invocations fails and the alias goes back to version 1
    assert run.code == 1, run.lines
    assert run.weights == [0.1, 0.0]
    assert stack.alias() == {"version": "1", "weights": {}}
    assert clock.elapsed == 60
    assert run.report["outcome"] == "rolled_back"
    assert "1 Lambda Errors + 150 ServerErrors" in run.report["reason"]
    assert "--max-error-rate" in run.report["reason"]
    # AND the reading records both counts, for the new and the old version
    reading = run.report["steps"][0]["readings"][-1]
    assert reading["new"] == {
        "version": "2",
        "invocations": 200.0,
        "errors": 151.0,
        "lambda_errors": 1.0,
        "server_errors": 150.0,
        "p99_ms": 110.0,
        "error_rate": 0.755,
    }
    assert (reading["old"]["lambda_errors"], reading["old"]["server_errors"]) == (9.0, 3.0)
    assert run.report["gates"]["emf_server_errors"] == {
        "namespace": "fnkit",
        "service": "fnkit",
        "model": "digits",
        "metric": "ServerErrors",
    }


def test_without_the_emf_flags_the_same_canary_passes(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, steady_server_errors: Any
):
    # GIVEN the same canary answering 75 % of its requests with a 500
    steady_traffic(LAMBDA_TRAFFIC)
    steady_server_errors(SERVER_ERRORS)

    # WHEN promoting on Lambda's metrics alone
    run = run_promote(_canary(), p99_ms=HEALTHY_P99)

    # THEN it is promoted: the blind spot the flags close (Lambda's Errors never sees a 5xx answer)
    assert run.code == 0, run.lines
    assert stack.alias() == {"version": "2", "weights": {}}
    reading = run.report["steps"][0]["readings"][-1]
    assert reading["new"]["errors"] == 5.0 and reading["new"]["server_errors"] is None
    assert run.report["gates"]["emf_server_errors"] is None


def test_no_emf_data_counts_as_zero_errors(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN clean traffic, and ServerErrors only under another service and another model (the
    # function emits ServerErrors only when an error happens: this version never emitted any)
    steady_traffic({"2": (10, 0), "1": (90, 0)})
    for other in (
        type(EMF)(EMF.namespace, "another-stack", EMF.model),
        type(EMF)(EMF.namespace, EMF.service, "minilm"),
    ):
        put_server_errors(stack.cw, "2", clock.now + timedelta(minutes=1), 500, source=other)

    # WHEN promoting with the EMF flags
    run = run_promote(_canary(*EMF_FLAGS), p99_ms=HEALTHY_P99)

    # THEN promoted, with zero ServerErrors read for both versions (not unknown, not another's)
    assert run.code == 0, run.lines
    assert stack.alias() == {"version": "2", "weights": {}}
    readings = run.report["steps"][0]["readings"]
    assert all(r["new"]["server_errors"] == 0.0 and r["old"]["server_errors"] == 0.0 for r in readings)
    assert readings[-1]["verdict"] == "pass" and readings[-1]["new"]["invocations"] == 50


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
