"""The EMF documents the handler prints, parsed: namespace, names, units, dimensions."""

from __future__ import annotations

import json
import os

import pytest
from fnkit_ops.events import load_event


def _definitions(document: dict) -> list[dict]:
    return document["_aws"]["CloudWatchMetrics"]


def test_a_cold_prediction_emits_the_documented_metrics(harness, serve):
    # GIVEN the digits function, cold, as version 7
    serve("digits")

    # WHEN one prediction runs
    event = load_event("digits-http-api")
    harness.invoke(event)

    # THEN the namespace is the environment's and the main document carries the per-version metrics
    documents = harness.emf()
    namespace = os.environ["POWERTOOLS_METRICS_NAMESPACE"]
    assert {cw["Namespace"] for d in documents for cw in _definitions(d)} == {namespace}
    main = next(d for d in documents if "InferenceTime" in d)
    (definition,) = _definitions(main)
    assert definition["Dimensions"] == [["model", "function_version", "service"]]
    units = {m["Name"]: m["Unit"] for m in definition["Metrics"]}
    assert units == {
        "ModelLoadTime": "Milliseconds",
        "InferenceTime": "Milliseconds",
        "BatchSize": "Count",
        "Requests": "Count",
    }
    assert main["Requests"] == [1.0]
    assert main["model"] == "digits"
    assert main["function_version"] == "7"
    assert main["service"] == os.environ["POWERTOOLS_SERVICE_NAME"]
    assert main["BatchSize"] == [float(len(json.loads(event["body"])["inputs"]))]
    assert main["InferenceTime"][0] > 0 and main["ModelLoadTime"][0] > 0
    # AND powertools' ColdStart metric is its own document
    cold = next(d for d in documents if "ColdStart" in d)
    assert cold["ColdStart"] == [1.0]
    assert cold["function_name"] == harness.context.function_name


def test_cold_start_and_model_load_are_counted_once(harness, serve):
    # GIVEN the digits function
    serve("digits")

    # WHEN three invocations arrive
    for _ in range(3):
        harness.invoke(load_event("digits-direct"))

    # THEN ColdStart and ModelLoadTime appear once, InferenceTime three times
    names = harness.metric_names()
    assert names.count("ColdStart") == 1
    assert names.count("ModelLoadTime") == 1
    assert names.count("InferenceTime") == 3


@pytest.mark.filterwarnings("ignore:Dimension 'function_version' has already been added")
def test_function_version_dimension_follows_the_context(harness, serve, lambda_context):
    # GIVEN two invocations from different published versions (a canary and the stable one)
    serve("digits")
    canary = type(lambda_context)(function_version="8")

    # WHEN each handles a request
    harness.invoke(load_event("digits-direct"))
    harness.invoke(load_event("digits-direct"), context=canary)

    # THEN each version's InferenceTime is in its own dimension value
    versions = [d["function_version"] for d in harness.emf() if "InferenceTime" in d]
    assert versions == ["7", "8"]


def test_function_version_falls_back_to_the_lambda_env(harness, serve, lambda_context, monkeypatch):
    # GIVEN a context without a version (e.g. a minimal local runner), and Lambda's env var
    serve("digits")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "12")
    context = type(lambda_context)(function_version="")

    # WHEN a request runs
    body = harness.invoke(load_event("digits-direct"), context=context)

    # THEN the env var's version is the dimension and is in the response
    assert body["function_version"] == "12"
    assert [d["function_version"] for d in harness.emf() if "InferenceTime" in d] == ["12"]


def test_errors_are_counted_by_class_without_splitting_the_main_document(harness, serve):
    # GIVEN a bad request and a wrong route
    serve("digits")
    bad = load_event("digits-http-api")
    bad["body"] = json.dumps({"inputs": [[1.0]]})
    missing = load_event("digits-http-api")
    missing["rawPath"] = "/nowhere"

    # WHEN both run
    harness.invoke(bad)
    harness.invoke(missing)

    # THEN each class has its own Errors document; the main documents carry ClientErrors only
    documents = harness.emf()
    per_class = [d for d in documents if "Errors" in d]
    assert [d["error_class"] for d in per_class] == ["InputShapeError", "RouteNotFoundError"]
    for document in per_class:
        (definition,) = _definitions(document)
        assert definition["Dimensions"] == [["model", "function_version", "error_class", "service"]]
    main = [d for d in documents if "ClientErrors" in d]
    assert len(main) == 2 and all("error_class" not in d for d in main)


def test_every_document_stays_within_the_dimension_limit(harness, serve):
    # GIVEN a mix of invocations
    serve("digits")
    for name in ("digits-http-api", "digits-warmup", "digits-health", "digits-rest-api"):
        harness.invoke(load_event(name))

    # THEN every dimension set has at most 29 dimensions plus service, and values are strings
    for document in harness.emf():
        for definition in _definitions(document):
            for dimension_set in definition["Dimensions"]:
                assert len(dimension_set) <= 30
                assert all(isinstance(document[name], str) for name in dimension_set)


def _counts(harness, name: str) -> float:
    return sum(sum(d[name]) for d in harness.emf() if name in d)


def test_health_checks_and_warmups_are_not_requests(harness, serve):
    # GIVEN the digits function
    serve("digits")

    # WHEN it answers a warm-up, health checks through each API, and two predictions
    for name in ("digits-warmup", "digits-health", "digits-health", "digits-http-api", "digits-direct"):
        harness.invoke(load_event(name))

    # THEN only the two predictions are Requests; the warm-up is a WarmUps
    assert _counts(harness, "Requests") == 2
    assert _counts(harness, "WarmUps") == 1
    assert _counts(harness, "InferenceTime") > 0 and harness.metric_names().count("InferenceTime") == 2


def test_a_failing_health_check_is_no_client_error_but_a_bad_request_is(harness, serve):
    # GIVEN a health check of another model's path (404) and a prediction on an unknown route (404)
    serve("digits")
    health = load_event("digits-health")
    health["rawPath"] = "/other/health"
    health["requestContext"]["http"]["path"] = "/other/health"
    missing = load_event("digits-http-api")
    missing["rawPath"] = "/nowhere"

    # WHEN both arrive
    health_response = harness.invoke(health)
    missing_response = harness.invoke(missing)

    # THEN both are 404, but only the request is counted: one Requests, one ClientErrors
    assert health_response["statusCode"] == missing_response["statusCode"] == 404
    assert _counts(harness, "Requests") == 1
    assert _counts(harness, "ClientErrors") == 1
    # AND the health check's error is still in the per-class document
    assert [d["error_class"] for d in harness.emf() if "Errors" in d] == [
        "ModelNotFoundError",
        "RouteNotFoundError",
    ]
