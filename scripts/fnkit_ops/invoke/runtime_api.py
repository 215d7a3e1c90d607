"""A small local Lambda Runtime API, enough for awslambdaric: next, response, error, init error,
and SnapStart's restore/next and restore/error.

SnapStart (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`): after init and its before-snapshot hooks, the
runtime client asks `GET /runtime/restore/next`. Lambda would take the snapshot there and answer in a
restored copy; here the same process goes on at once (nothing is snapshotted, so restore latency is
not emulated). The client then runs its after-restore hooks, posting `/runtime/restore/error` if one
raises, and asks for the first invocation.

One server serves one function process (a fresh process gets a fresh server), on 127.0.0.1 and an
ephemeral port, HTTP/1.1 with Content-Length. Every wait is bounded; `close()` ends blocked requests.
Timestamps are `time.perf_counter()` values taken in this process, so callers can subtract them
from their own.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, TypeVar

from fnkit_ops.invoke.constants import RUNTIME_API_VERSION
from fnkit_ops.invoke.exceptions import RuntimeApiError

_T = TypeVar("_T")
_PREFIX = f"/{RUNTIME_API_VERSION}/runtime"
_POLL_S = 0.05

ErrorPhase = Literal["init", "restore"]
"""The phases outside an invocation whose failure the runtime client posts (/init/error, /restore/error)."""
PostedError = tuple[bytes, str | None]
"""What the function posted for a phase: the body and its Lambda-Runtime-Function-Error-Type header."""
_ERROR_PATHS: dict[str, ErrorPhase] = {f"{_PREFIX}/init/error": "init", f"{_PREFIX}/restore/error": "restore"}


@dataclass(frozen=True)
class Outcome:
    """What the function posted back for one invocation."""

    request_id: str
    ok: bool
    """True for /response, False for /error."""
    body: bytes
    error_type: str | None
    """`Lambda-Runtime-Function-Error-Type` header of an /error post."""
    handed_out_at: float
    """When the event was handed to the function (`next` answered)."""
    posted_at: float
    """When the response or error body had been read."""

    @property
    def duration_ms(self) -> float:
        return (self.posted_at - self.handed_out_at) * 1000.0

    def json(self) -> Any:
        """The posted body as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class _Pending:
    request_id: str
    event: bytes
    timeout_s: float
    trace_id: str


class _State:
    """Queue and results, guarded by one condition."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.queue: deque[_Pending] = deque()
        self.in_flight: dict[str, float] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.first_next_at: float | None = None
        self.restore_next_at: float | None = None
        self.phase_errors: dict[ErrorPhase, PostedError] = {}
        self.closed = False

    def take_next(self, max_wait_s: float) -> _Pending | None:
        deadline = time.monotonic() + max_wait_s
        with self.cond:
            if self.first_next_at is None:
                self.first_next_at = time.perf_counter()
                self.cond.notify_all()
            while not self.queue and not self.closed and time.monotonic() < deadline:
                self.cond.wait(_POLL_S)
            if self.closed or not self.queue:
                return None
            pending = self.queue.popleft()
            self.in_flight[pending.request_id] = time.perf_counter()
            return pending

    def post(self, request_id: str, ok: bool, body: bytes, error_type: str | None) -> bool:
        with self.cond:
            handed_out = self.in_flight.pop(request_id, None)
            if handed_out is None:
                return False
            self.outcomes[request_id] = Outcome(
                request_id, ok, body, error_type, handed_out, time.perf_counter()
            )
            self.cond.notify_all()
            return True

    def post_phase_error(self, phase: ErrorPhase, body: bytes, error_type: str | None) -> None:
        with self.cond:
            self.phase_errors[phase] = (body, error_type)
            self.cond.notify_all()

    def restore_next(self) -> None:
        with self.cond:
            self.restore_next_at = time.perf_counter()
            self.cond.notify_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between header and body segments
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log."""

    def _reply(self, status: HTTPStatus, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _status_body(self, message: str) -> bytes:
        return json.dumps({"status": message}).encode()

    def do_GET(self) -> None:
        if self.path == f"{_PREFIX}/restore/next":
            self.server.state.restore_next()  # the snapshot would be taken here; resumed at once
            self._reply(HTTPStatus.OK, b"")
            return
        if self.path != f"{_PREFIX}/invocation/next":
            self._reply(HTTPStatus.NOT_FOUND, self._status_body("unknown route"))
            return
        pending = self.server.state.take_next(self.server.next_wait_s)
        if pending is None:
            # closed or nothing to do: Lambda would freeze the sandbox; the client sees an error and exits
            self._reply(HTTPStatus.GONE, self._status_body("runtime api closed"))
            return
        deadline_ms = int((time.time() + pending.timeout_s) * 1000)
        self._reply(
            HTTPStatus.OK,
            pending.event,
            {
                "Lambda-Runtime-Aws-Request-Id": pending.request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": self.server.function_arn,
                "Lambda-Runtime-Trace-Id": pending.trace_id,
            },
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        parts = self.path.strip("/").split("/")
        state = self.server.state
        phase = _ERROR_PATHS.get(self.path)
        if phase is not None:
            state.post_phase_error(phase, body, error_type)
            self._reply(HTTPStatus.ACCEPTED, self._status_body("OK"))
            return
        if len(parts) == 5 and f"/{'/'.join(parts[:3])}" == f"{_PREFIX}/invocation":
            kind = parts[4]
            if kind in ("response", "error") and state.post(parts[3], kind == "response", body, error_type):
                self._reply(HTTPStatus.ACCEPTED, self._status_body("OK"))
                return
            self._reply(HTTPStatus.BAD_REQUEST, self._status_body("unknown request id or route"))
            return
        self._reply(HTTPStatus.NOT_FOUND, self._status_body("unknown route"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: _State, function_arn: str, next_wait_s: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.function_arn = function_arn
        self.next_wait_s = next_wait_s

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (the function process ended) is expected, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"


class RuntimeApiServer:
    """The Runtime API of one function process. Use as a context manager."""

    def __init__(self, function_arn: str, next_wait_s: float = 600.0) -> None:
        self._state = _State()
        self._server = _Server(self._state, function_arn, next_wait_s)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(_POLL_S,), daemon=True)

    @property
    def address(self) -> str:
        """`host:port`, the value of AWS_LAMBDA_RUNTIME_API."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> RuntimeApiServer:
        self._thread.start()
        return self

    def close(self) -> None:
        with self._state.cond:
            self._state.closed = True
            self._state.cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RuntimeApiServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def submit(self, event: bytes, timeout_s: float) -> str:
        """Queue one event; returns its request id."""
        request_id = str(uuid.uuid4())
        with self._state.cond:
            if self._state.closed:
                raise RuntimeApiError("the runtime api is closed")
            self._state.queue.append(_Pending(request_id, event, timeout_s, _trace_id()))
            self._state.cond.notify_all()
        return request_id

    def _read(self, read: Callable[[_State], _T]) -> _T:
        """`read` of the shared state, under its lock."""
        with self._state.cond:
            return read(self._state)

    @property
    def first_next_at(self) -> float | None:
        """When the function first asked for an event (the end of its init), or None."""
        return self._read(lambda state: state.first_next_at)

    def posted_error(self, phase: ErrorPhase) -> PostedError | None:
        """The body and error type the function posted to /init/error or /restore/error, or None."""
        return self._read(lambda state: state.phase_errors.get(phase))

    @property
    def restore_next_at(self) -> float | None:
        """When the function asked for /restore/next (SnapStart: init and before-snapshot hooks done)."""
        return self._read(lambda state: state.restore_next_at)

    def handed_out_at(self, request_id: str) -> float | None:
        """When the event went out, while it is in flight; None before and after."""
        return self._read(lambda state: state.in_flight.get(request_id))

    def outcome(self, request_id: str) -> Outcome | None:
        return self._read(lambda state: state.outcomes.get(request_id))

    def wait(self, max_wait_s: float) -> None:
        """Block until something changes (a request or post arrives) or `max_wait_s` passes."""
        with self._state.cond:
            self._state.cond.wait(max_wait_s)
