"""Bad requests get the one error shape with the right status; nothing internal reaches the client."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
import pytest
from fnkit_ops.events import load_event

INTERNALS = ("Traceback", 'File "', "/work", "site-packages", ".py", "0x")


def _post(event_name: str, body: Any, *, raw: bool = False) -> dict[str, Any]:
    event = load_event(event_name)
    event["body"] = body if raw else json.dumps(body)
    return event


def _assert_error(harness: Any, response: dict[str, Any], status: int, error: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response
    body = harness.body(response)
    assert set(body) == {"error", "message", "request_id"}
    assert body["error"] == error
    assert body["request_id"] == harness.context.aws_request_id
    assert not any(marker in body["message"] for marker in INTERNALS), body["message"]
    return body


PIXELS = np.zeros((1, 1, 8, 8)).tolist()


def _zeros_body(shape: tuple[int, ...]) -> str:
    """A digits body of zeros of this shape."""
    return json.dumps({"inputs": np.zeros(shape).tolist()})


def _pixels_body(token: str, *, every: bool = False) -> str:
    """A one-image digits body with its first (or every) pixel written as this JSON token."""
    return json.dumps({"inputs": PIXELS}).replace("0.0", token, -1 if every else 1)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param("not json", "BodyFormatError", id="not-json"),
        pytest.param("[1, 2]", "BodyFormatError", id="not-an-object"),
        pytest.param("{}", "BodyFormatError", id="no-inputs"),
        pytest.param('{"inputs": [], "extra": 1}', "BodyFormatError", id="unknown-key"),
        pytest.param("[" * 100_000, "BodyFormatError", id="deep-nesting"),
        pytest.param('{"inputs": [[1.0]]}', "InputShapeError", id="wrong-rank"),
        pytest.param(_zeros_body((1, 1, 8, 7)), "InputShapeError", id="dim"),
        pytest.param(_zeros_body((0, 1, 8, 8)), "InputShapeError", id="empty"),
        pytest.param('{"inputs": [[1.0], [1.0, 2.0]]}', "InputDtypeError", id="ragged"),
        pytest.param('{"inputs": [["a"]]}', "InputDtypeError", id="strings"),
        pytest.param('{"inputs": [[true]]}', "InputDtypeError", id="booleans"),
        pytest.param('{"inputs": [[null]]}', "InputDtypeError", id="null"),
        pytest.param(_pixels_body("true"), "InputDtypeError", id="bool-in-floats"),
        pytest.param(_pixels_body("false", every=True), "InputDtypeError", id="all-bools"),
        pytest.param('{"inputs": "a string"}', "InputDtypeError", id="string-for-tensor"),
        pytest.param('{"inputs": {"npy": "%%%"}}', "NpyDecodeError", id="npy-not-base64"),
        pytest.param('{"inputs": {"npy": "aGVsbG8="}}', "NpyDecodeError", id="npy-not-npy"),
        pytest.param('{"inputs": {"other": []}}', "InputNameError", id="unknown-name"),
        pytest.param(_zeros_body((65, 1, 8, 8)), "BatchSizeError", id="batch-limit"),
        pytest.param(_pixels_body("NaN"), "InputValueError", id="nan"),
        pytest.param(_pixels_body("1e39"), "InputValueError", id="float32-overflow"),
        pytest.param(_pixels_body("Infinity"), "InputValueError", id="inf"),
    ],
)
def test_bad_digits_bodies_are_400(harness, serve, body, error):
    # GIVEN the digits function and a bad body
    serve("digits")

    # WHEN it is posted through the HTTP API
    response = harness.invoke(_post("digits-http-api", body, raw=True))

    # THEN the answer is the typed error, a 400
    _assert_error(harness, response, 400, error)


def _npy(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(
    ("encoded", "error"),
    [
        pytest.param(_npy(np.zeros((2, 1, 8, 8), dtype=np.complex64)), "NpyDecodeError", id="complex"),
        pytest.param(_npy(np.array(["a"])), "NpyDecodeError", id="unicode"),
        pytest.param(_npy(np.zeros((2, 1, 8, 8), dtype=np.float32))[:-40], "NpyDecodeError", id="truncated"),
        pytest.param(_npy(np.zeros((2, 1, 8, 8), dtype=np.bool_)), "InputDtypeError", id="bool"),
        pytest.param(_npy(np.zeros((2, 8, 8), dtype=np.float32)), "InputShapeError", id="rank"),
    ],
)
def test_bad_npy_inputs_are_400(harness, serve, encoded, error):
    # GIVEN a .npy payload that is wrong in one way
    serve("digits")

    # WHEN it is posted
    response = harness.invoke(_post("digits-http-api", {"inputs": {"npy": encoded}}))

    # THEN it is rejected with the right class
    _assert_error(harness, response, 400, error)


def test_npy_header_claiming_a_huge_array_is_rejected_before_allocating(harness, serve):
    # GIVEN a .npy header that declares 10**12 floats but carries none
    serve("digits")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 1, 8, 8 * 10**6)}
    )
    encoded = base64.b64encode(b"\x93NUMPY\x01\x00" + header.getvalue()[8:]).decode()

    # WHEN it is posted
    response = harness.invoke(_post("digits-http-api", {"inputs": {"npy": encoded}}))

    # THEN it is a 400, not a MemoryError
    _assert_error(harness, response, 400, "NpyDecodeError")


def test_body_over_the_limit_is_413_before_parsing(harness, serve):
    # GIVEN a 1 KB body limit and a body of 2 KB that is not even JSON
    serve("digits", FNKIT_MAX_BODY_BYTES="1024")

    # WHEN it is posted (plain and base64-encoded)
    plain = harness.invoke(_post("digits-http-api", "x" * 2048, raw=True))
    event = _post("digits-rest-api", base64.b64encode(b"x" * 2048).decode(), raw=True)
    event["isBase64Encoded"] = True
    encoded = harness.invoke(event)

    # THEN both are 413 (a parse error would have been 400)
    _assert_error(harness, plain, 413, "BodyTooLargeError")
    _assert_error(harness, encoded, 413, "BodyTooLargeError")


def test_direct_invocation_measures_the_body_as_the_api_does(harness, serve):
    # GIVEN the text function with a 3,000-byte body limit, and 8 strings of 150 "é" (2 UTF-8 bytes each)
    serve("minilm", FNKIT_MAX_BODY_BYTES="3000")
    body = {"inputs": ["é" * 150] * 8}
    assert len(json.dumps(body, ensure_ascii=False).encode("utf-8")) < 3000 < len(json.dumps(body))

    # WHEN it arrives through the HTTP API and as a direct invocation
    api = harness.invoke(_post("minilm-http-api", json.dumps(body, ensure_ascii=False), raw=True))
    direct = harness.invoke(body)

    # THEN both accept it: the direct path does not count each "é" as a 6-byte \\u escape
    assert api["statusCode"] == 200, api
    assert direct.get("batch_size") == 8, direct


def test_direct_invocation_errors_carry_the_status(harness, serve):
    # GIVEN the digits function invoked directly with a wrong shape
    serve("digits")

    # WHEN invoked
    answer = harness.invoke({"inputs": [[1.0]]})

    # THEN the error body comes back with the status the API would give
    assert answer == {
        "error": "InputShapeError",
        "message": answer["message"],
        "request_id": harness.context.aws_request_id,
        "status": 400,
    }


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param({"inputs": []}, "TextInputError", id="empty-list"),
        pytest.param({"inputs": [1, 2]}, "TextInputError", id="numbers"),
        pytest.param({"inputs": ["a", None]}, "TextInputError", id="null"),
        pytest.param({"inputs": ["x" * 201]}, "TextInputError", id="too-long"),
        pytest.param({"inputs": ["a"] * 9}, "BatchSizeError", id="batch-limit"),
        pytest.param({"inputs": {"input_ids": [[1]]}}, "TextInputError", id="token-tensors"),
        pytest.param({"inputs": ["ok", "bad \ud800"]}, "TextInputError", id="lone-surrogate"),
    ],
)
def test_bad_text_bodies_are_400(harness, serve, body, error):
    # GIVEN the text function (limits: 8 strings, 200 characters)
    serve("minilm")

    # WHEN the body is posted through the Function URL
    response = harness.invoke(_post("minilm-function-url", body))

    # THEN it is rejected
    _assert_error(harness, response, 400, error)


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        pytest.param("GET", "/predict", 405, "MethodNotAllowedError", id="get-predict"),
        pytest.param("DELETE", "/digits/predict", 405, "MethodNotAllowedError", id="delete-model-predict"),
        pytest.param("POST", "/health", 405, "MethodNotAllowedError", id="post-health"),
        pytest.param("POST", "/nope", 404, "RouteNotFoundError", id="unknown-path"),
        pytest.param("GET", "/", 404, "RouteNotFoundError", id="root"),
        pytest.param("POST", "/minilm/predict", 404, "ModelNotFoundError", id="other-model"),
        pytest.param("GET", "/minilm/health", 404, "ModelNotFoundError", id="other-model-health"),
    ],
)
def test_wrong_routes_and_methods(harness, serve, method, path, status, error):
    # GIVEN the digits function and a v2 request on a wrong route or method
    serve("digits")
    event = load_event("digits-http-api")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method

    # WHEN it runs
    response = harness.invoke(event)

    # THEN it is a 404 or 405 in the error shape
    _assert_error(harness, response, status, error)


def test_unsupported_event_is_a_400_error_body(harness, serve):
    # GIVEN an SQS-like event this function does not handle
    serve("digits")

    # WHEN invoked
    answer = harness.invoke({"Records": [{"body": "hi"}]})

    # THEN it is an EventFormatError with status 400
    assert answer["error"] == "EventFormatError"
    assert answer["status"] == 400


def test_malformed_api_event_is_answered_as_a_400_proxy_response(harness, serve):
    # GIVEN a REST event whose headers are not a map
    serve("digits")
    event = load_event("digits-rest-api")
    event["headers"] = ["not", "a", "map"]

    # WHEN invoked
    response = harness.invoke(event)

    # THEN the proxy response is a 400 EventFormatError
    _assert_error(harness, response, 400, "EventFormatError")


def test_unexpected_error_is_500_with_request_id_and_logged_in_full(harness, serve, monkeypatch):
    # GIVEN a fault deep in the pipeline whose text holds a path and a secret
    serve("digits")
    from fnkit_runtime import predict

    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("/opt/secret/path.py exploded: token=abc123")

    monkeypatch.setattr(predict, "plan_tensors", explode)

    # WHEN a valid request arrives
    response = harness.invoke(load_event("digits-http-api"))

    # THEN the client sees a generic 500 with the request id, and nothing of the fault
    body = _assert_error(harness, response, 500, "InternalError")
    assert "secret" not in response["body"] and "RuntimeError" not in response["body"]
    assert body["request_id"] == harness.context.aws_request_id
    # AND the log holds the full traceback, tied to the request id
    records = [r for r in harness.logs() if r.get("message") == "unexpected error"]
    assert records and "token=abc123" in records[0]["exception"]
    assert "Traceback" in records[0]["exception"]
    assert records[0]["function_request_id"] == harness.context.aws_request_id
    # AND the error is counted as a server error with its class
    documents = harness.emf()
    assert any(d.get("error_class") == "InternalError" for d in documents)
    assert any("ServerErrors" in d for d in documents)


def test_values_the_graph_rejects_at_run_time_are_400(harness, serve):
    # GIVEN a tensor model that gathers rows by index (5 rows)
    model = serve("lookup")

    # WHEN a valid index and then an out-of-range index arrive
    good = harness.invoke({"inputs": [0, 4]})
    bad = harness.invoke({"inputs": [1, 99]})

    # THEN the first is answered (tensor task: no predictions), the second is a 400, cause logged
    np.testing.assert_array_equal(good["outputs"]["rows"], model.expected([0, 4]))
    assert good["predictions"] == []
    assert bad["status"] == 400 and bad["error"] == "ModelInputRejectedError"
    assert "bounds" not in bad["message"]
    records = [r for r in harness.logs() if r.get("error") == "ModelInputRejectedError"]
    assert records and "out of data bounds" in records[0]["cause"]


@pytest.mark.parametrize(
    ("env", "value"),
    [
        pytest.param({}, "3e38", id="finite-values-overflow-the-model"),
        pytest.param({"allow_non_finite": True}, "NaN", id="nan-allowed-by-policy"),
    ],
)
def test_inputs_that_drive_outputs_non_finite_are_400_not_500(harness, serve, model_copy, env, value):
    # GIVEN the fp32 digits model, optionally with a manifest that lets NaN/inf inputs through
    model_dir = model_copy("digits")
    if env:
        data = json.loads((model_dir / "manifest.json").read_text())
        data["limits"].update(env)
        (model_dir / "manifest.json").write_text(json.dumps(data))
    serve("digits", model_dir=model_dir)

    # WHEN a client sends pixels that its float32 logits cannot hold (finite 3e38, or NaN)
    pixels = json.dumps({"inputs": np.full((1, 1, 8, 8), 1.0).tolist()}).replace("1.0", value)
    response = harness.invoke(_post("digits-http-api", pixels, raw=True))

    # THEN it is the client's error (400), not a server error a canary alarm would count
    body = _assert_error(harness, response, 400, "InputValueError")
    assert "NaN or infinity" in body["message"]
    assert not any("ServerErrors" in d for d in harness.emf())
