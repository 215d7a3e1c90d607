"""The local Runtime API on its own, spoken to with http.client as awslambdaric would."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator

import pytest
from fnkit_ops.invoke import RuntimeApiError, RuntimeApiServer

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fnkit-test"
BASE = "/2018-06-01/runtime"


@pytest.fixture
def server() -> Iterator[RuntimeApiServer]:
    with RuntimeApiServer(ARN, next_wait_s=2.0) as api:
        yield api


def _request(
    api: RuntimeApiServer, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(api.address, timeout=10)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_next_hands_out_the_event_with_lambda_headers(server: RuntimeApiServer) -> None:
    # GIVEN a queued event
    request_id = server.submit(b'{"hello": 1}', timeout_s=30)

    # WHEN the runtime asks for the next invocation
    status, headers, body = _request(server, "GET", f"{BASE}/invocation/next")

    # THEN it gets the event with the request id, a future deadline, the ARN and a trace id
    assert status == 200
    assert json.loads(body) == {"hello": 1}
    assert headers["Lambda-Runtime-Aws-Request-Id"] == request_id
    assert int(headers["Lambda-Runtime-Deadline-Ms"]) > time.time() * 1000
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == ARN
    assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")
    assert headers["Content-Length"] == str(len(body))
    assert server.first_next_at is not None
    assert server.handed_out_at(request_id) is not None


def test_response_post_completes_the_invocation(server: RuntimeApiServer) -> None:
    # GIVEN an event handed out
    request_id = server.submit(b"{}", timeout_s=30)
    _request(server, "GET", f"{BASE}/invocation/next")

    # WHEN the runtime posts the response
    status, _, _ = _request(server, "POST", f"{BASE}/invocation/{request_id}/response", b'{"ok": true}')

    # THEN it is accepted and recorded as a success with a duration
    assert status == 202
    outcome = server.outcome(request_id)
    assert outcome is not None and outcome.ok
    assert outcome.json() == {"ok": True}
    assert outcome.duration_ms >= 0
    assert server.handed_out_at(request_id) is None


def test_error_post_records_the_error_type(server: RuntimeApiServer) -> None:
    # GIVEN an event handed out
    request_id = server.submit(b"{}", timeout_s=30)
    _request(server, "GET", f"{BASE}/invocation/next")

    # WHEN the runtime posts an error
    body = json.dumps({"errorType": "ValueError", "errorMessage": "bad"}).encode()
    headers = {"Lambda-Runtime-Function-Error-Type": "Unhandled"}
    status, _, _ = _request(server, "POST", f"{BASE}/invocation/{request_id}/error", body, headers)

    # THEN the outcome is a failure carrying the header and the body
    assert status == 202
    outcome = server.outcome(request_id)
    assert outcome is not None and not outcome.ok
    assert outcome.error_type == "Unhandled"
    assert outcome.json()["errorType"] == "ValueError"


def test_init_error_is_recorded(server: RuntimeApiServer) -> None:
    # WHEN the runtime reports an init error
    body = json.dumps({"errorType": "Runtime.ImportModuleError", "errorMessage": "no module"}).encode()
    status, _, _ = _request(
        server, "POST", f"{BASE}/init/error", body, {"Lambda-Runtime-Function-Error-Type": "Runtime.X"}
    )

    # THEN it is kept for the runner
    assert status == 202
    assert server.posted_error("init") == (body, "Runtime.X")


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param("POST", f"{BASE}/invocation/not-a-request/response", 400, id="unknown-request-id"),
        pytest.param("POST", f"{BASE}/invocation/x/other", 400, id="unknown-post-kind"),
        pytest.param("GET", f"{BASE}/invocation/other", 404, id="unknown-get-route"),
        pytest.param("POST", "/2018-06-01/other", 404, id="unknown-post-route"),
    ],
)
def test_misuse_is_refused(server: RuntimeApiServer, method: str, path: str, expected: int) -> None:
    # WHEN the runtime calls a route or request id the API does not know
    status, _, body = _request(server, method, path, b"{}" if method == "POST" else b"")

    # THEN it gets a 4xx with a JSON body
    assert status == expected
    assert "status" in json.loads(body)


def test_next_is_bounded_and_closing_ends_it() -> None:
    # GIVEN a server whose `next` waits at most 0.2 s and has nothing queued
    with RuntimeApiServer(ARN, next_wait_s=0.2) as api:
        # WHEN the runtime asks for an event
        status, _, _ = _request(api, "GET", f"{BASE}/invocation/next")

        # THEN it gets an error instead of hanging
        assert status == 410

    # AND a closed server takes no more events
    with pytest.raises(RuntimeApiError):
        api.submit(b"{}", timeout_s=1)
