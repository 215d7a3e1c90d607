"""The handler in process, on the real-shaped events in events/ and tiny ONNX models."""

from __future__ import annotations

import base64
import copy
import io
import json
from typing import Any

import numpy as np
import pytest
from fnkit_ops.events import load_event

API_TYPES = ["rest-api", "http-api", "function-url"]


def _prediction(harness: Any, event: dict[str, Any], kind: str) -> dict[str, Any]:
    response = harness.invoke(event)
    if kind == "direct":
        return response  # type: ignore[no-any-return]
    assert response["statusCode"] == 200, response
    return harness.body(response)  # type: ignore[no-any-return]


def _request_body(event: dict[str, Any], kind: str) -> dict[str, Any]:
    return event if kind == "direct" else json.loads(event["body"])


def _served_prediction(harness: Any, serve: Any, model: str, kind: str) -> tuple[Any, dict[str, Any], Any]:
    """Serve `model` and run its shipped event of this kind: the model, the body, the request inputs."""
    served = serve(model)
    event = load_event(f"{model}-{kind}")
    body = _prediction(harness, event, kind)
    return served, body, _request_body(event, kind)["inputs"]


@pytest.mark.parametrize("kind", [*API_TYPES, "direct"])
def test_digits_prediction_matches_the_model_for_every_event_type(harness, serve, kind):
    # GIVEN the digits function and its event of this type WHEN the handler runs it
    model, body, pixels = _served_prediction(harness, serve, "digits", kind)

    # THEN the logits are the model's, with labels, versions and the batch size
    expected = model.expected(pixels)
    np.testing.assert_allclose(body["outputs"]["logits"], expected, rtol=1e-5, atol=1e-5)
    assert body["model"] == "digits"
    assert body["model_version"] == model.manifest.model_version
    assert body["function_version"] == harness.context.function_version
    assert body["batch_size"] == len(pixels) == 3
    assert [p["label"] for p in body["predictions"]] == [str(i) for i in expected.argmax(axis=1)]
    assert all(0.0 < p["score"] <= 1.0 for p in body["predictions"])


@pytest.mark.parametrize("kind", [*API_TYPES, "direct"])
def test_minilm_embeddings_match_the_model_for_every_event_type(harness, serve, kind):
    # GIVEN the text function (real MiniLM tokenizer, tiny pooling graph) WHEN the handler runs the sentences
    model, body, texts = _served_prediction(harness, serve, "minilm", kind)

    # THEN the embeddings equal a per-sentence numpy computation (padding is masked out)
    np.testing.assert_allclose(body["outputs"]["embedding"], model.expected(texts), rtol=1e-5, atol=1e-5)
    assert body["predictions"] == []
    assert body["model_version"] == model.manifest.model_version


@pytest.mark.parametrize("name", ["digits", "minilm"])
def test_golden_samples_reproduce_through_direct_invocation(harness, serve, name):
    # GIVEN the manifest's golden request
    model = serve(name)
    golden = model.manifest.golden[0]

    # WHEN it is invoked directly
    body = harness.invoke(copy.deepcopy(golden.request))

    # THEN the outputs match the golden outputs within the manifest's tolerance
    for output, expected in golden.outputs.items():
        np.testing.assert_allclose(body["outputs"][output], expected, atol=golden.atol, rtol=golden.rtol)


def test_one_string_is_a_batch_of_one(harness, serve):
    # GIVEN a text body with a bare string
    model = serve("minilm")

    # WHEN it is invoked directly
    body = harness.invoke({"inputs": "hello world"})

    # THEN it is answered as a batch of one
    assert body["batch_size"] == 1
    np.testing.assert_allclose(body["outputs"]["embedding"], model.expected("hello world"), atol=1e-5)


def test_npy_input_gives_the_same_answer_as_nested_lists(harness, serve):
    # GIVEN the digits batch as base64 .npy
    model = serve("digits")
    pixels = np.asarray(load_event("digits-direct")["inputs"], dtype=np.float32)
    buffer = io.BytesIO()
    np.save(buffer, pixels)
    encoded = base64.b64encode(buffer.getvalue()).decode()

    # WHEN it is posted through the HTTP API
    event = load_event("digits-http-api")
    event["body"] = json.dumps({"inputs": {"npy": encoded}})
    body = harness.body(harness.invoke(event))

    # THEN the logits are the model's
    np.testing.assert_allclose(body["outputs"]["logits"], model.expected(pixels), atol=1e-5)


def test_named_inputs_object_is_accepted(harness, serve):
    # GIVEN the one input named explicitly
    model = serve("digits")
    pixels = load_event("digits-direct")["inputs"]

    # WHEN invoked
    body = harness.invoke({"inputs": {"pixels": pixels}})

    # THEN it is the same prediction
    np.testing.assert_allclose(body["outputs"]["logits"], model.expected(pixels), atol=1e-5)


def test_base64_encoded_api_body_is_decoded(harness, serve):
    # GIVEN a REST event whose body API Gateway base64-encoded (binary media types)
    model = serve("digits")
    event = load_event("digits-rest-api")
    pixels = json.loads(event["body"])["inputs"]
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True

    # WHEN the handler runs it
    body = harness.body(harness.invoke(event))

    # THEN it answers as for the plain body
    np.testing.assert_allclose(body["outputs"]["logits"], model.expected(pixels), atol=1e-5)


def test_health_returns_the_public_manifest_without_loading_the_session(harness, serve):
    # GIVEN the digits function, cold
    model = serve("digits")

    # WHEN the health event arrives
    response = harness.invoke(load_event("digits-health"))

    # THEN it is the public manifest plus the function version; the session is not created
    body = harness.body(response)
    assert response["statusCode"] == 200
    assert body["function_version"] == "7"
    assert body["loaded"] is False
    for key, value in model.manifest.public().items():
        assert body[key] == json.loads(json.dumps(value))
    assert "golden" not in body and "candidates" not in body and "artifact" not in body


def test_model_path_routes_serve_the_named_model(harness, serve):
    # GIVEN an HTTP API request on /digits/predict and /digits/health
    serve("digits")
    event = load_event("digits-http-api")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/digits/predict"
    health = load_event("digits-health")
    health["rawPath"] = health["requestContext"]["http"]["path"] = "/digits/health"

    # WHEN both run
    predicted = harness.invoke(event)
    checked = harness.invoke(health)

    # THEN both succeed
    assert predicted["statusCode"] == 200
    assert checked["statusCode"] == 200


def test_http_api_named_stage_is_stripped(harness, serve):
    # GIVEN an HTTP API event on a named stage
    serve("digits")
    event = load_event("digits-http-api")
    event["requestContext"]["stage"] = "prod"
    event["rawPath"] = "/prod/predict"

    # WHEN it runs
    response = harness.invoke(event)

    # THEN the route still matches
    assert response["statusCode"] == 200


def test_warmup_loads_the_session_without_counting_a_prediction(harness, serve):
    # GIVEN the digits function, cold
    model = serve("digits")
    from fnkit_runtime.session import holder

    # WHEN the EventBridge scheduled warm-up arrives, then {"warmup": true}
    first = harness.invoke(load_event("digits-warmup"))
    second = harness.invoke({"warmup": True})

    # THEN the session is loaded, the answer names the model version, and no prediction is counted
    assert holder.loaded
    assert first == {
        "warmup": True,
        "model": "digits",
        "model_version": model.manifest.model_version,
        "function_version": "7",
    }
    assert second["warmup"] is True
    names = harness.metric_names()
    assert names.count("WarmUps") == 2
    assert names.count("ModelLoadTime") == 1
    assert "InferenceTime" not in names and "BatchSize" not in names


def test_session_is_created_once_and_reused(harness, serve):
    # GIVEN the digits function
    serve("digits")
    from fnkit_runtime.session import holder

    # WHEN three requests arrive
    harness.invoke(load_event("digits-direct"))
    session = holder.model().session
    harness.invoke(load_event("digits-direct"))
    harness.invoke(load_event("digits-http-api"))

    # THEN one session served all three and the load was timed once
    assert holder.model().session is session
    names = harness.metric_names()
    assert names.count("ModelLoadTime") == 1
    assert names.count("InferenceTime") == 3


def test_thread_counts_follow_the_function_memory(harness, serve):
    # GIVEN a 3,008 MB function (1.7 vCPU)
    serve("digits", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="3008")
    from fnkit_runtime.session import holder

    # WHEN the model loads
    harness.invoke({"warmup": True})

    # THEN onnxruntime got 2 intra-op threads and 1 inter-op thread
    options = holder.model().session.get_session_options()
    assert options.intra_op_num_threads == 2
    assert options.inter_op_num_threads == 1


def test_logs_are_json_with_the_request_id(harness, serve):
    # GIVEN a request that is rejected (so the handler logs it)
    serve("digits")
    event = load_event("digits-http-api")
    event["body"] = json.dumps({"inputs": [[1.0]]})

    # WHEN it runs
    harness.invoke(event)

    # THEN the log record is structured JSON carrying the Lambda request id and the API request id
    records = [r for r in harness.logs() if r.get("message") == "request rejected"]
    assert records, harness.stdout()
    record = records[0]
    assert record["function_request_id"] == harness.context.aws_request_id
    assert record["correlation_id"] == event["requestContext"]["requestId"]
    assert record["service"] == "fnkit-test-service"
    assert record["error"] == "InputShapeError"
    assert record["function_version"] == "7"
