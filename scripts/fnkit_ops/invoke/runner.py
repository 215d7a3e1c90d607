"""Invoke a task root like Lambda does: a cold process on first use, then warm invocations.

`LocalFunction` keeps one execution environment (process + Runtime API) and replaces it, cold,
when the process dies or times out, as Lambda would. `run_invocations` is the one-call API that
`fnkit invoke` and `fnkit bench` use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fnkit_ops.invoke.constants import BEFORE_SNAPSHOT_ERROR, DEFAULT_INIT_TIMEOUT_S, DEFAULT_TIMEOUT_S
from fnkit_ops.invoke.exceptions import FunctionInitError
from fnkit_ops.invoke.process import FunctionConfig, FunctionProcess, OutputLog, OutputSink
from fnkit_ops.invoke.report import InvocationResult
from fnkit_ops.invoke.runtime_api import Outcome, RuntimeApiServer

_TICK_S = 0.02


@dataclass(frozen=True)
class ColdStartResult:
    """A cold start split as Lambda reports it, plus the end-to-end time a client waits."""

    init_ms: float
    """Process start to the first `next` request: interpreter, runtime client, handler module import."""
    first_invoke_ms: float
    """Duration of the first invocation (a lazy session is created here)."""
    total_ms: float
    """Process start to the first response posted."""
    max_memory_used_mb: float
    snapshot_ms: float | None = None
    """SnapStart only: process start to `/restore/next` (init and before-snapshot hooks done)."""


@dataclass
class RunResult:
    """Every invocation of a run, its cold starts and the function's output."""

    invocations: list[InvocationResult]
    cold_starts: list[ColdStartResult]
    log: OutputLog = field(default_factory=OutputLog)

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.invocations)

    @property
    def stdout(self) -> str:
        return self.log.text("stdout")

    @property
    def stderr(self) -> str:
        return self.log.text("stderr")


def encode_event(event: Any) -> bytes:
    """The payload Lambda hands the runtime: bytes as given, anything else as JSON."""
    if isinstance(event, bytes):
        return event
    return json.dumps(event).encode()


def _error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class LocalFunction:
    """One function, invoked locally through awslambdaric. Use as a context manager."""

    def __init__(
        self,
        task_root: Path,
        config: FunctionConfig,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        init_timeout_s: float = DEFAULT_INIT_TIMEOUT_S,
        sink: OutputSink | None = None,
    ) -> None:
        self.task_root = task_root.resolve()
        self.config = config
        self.timeout_s = timeout_s
        self.init_timeout_s = init_timeout_s
        self.sink = sink
        self.log = OutputLog()
        self.cold_starts: list[ColdStartResult] = []
        self._server: RuntimeApiServer | None = None
        self._process: FunctionProcess | None = None
        self._handed: dict[str, float] = {}

    def __enter__(self) -> LocalFunction:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the execution environment, if any."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._server is not None:
            self._server.close()
            self._server = None

    def _start(self) -> float:
        """A fresh environment; returns its init duration in ms. Raises FunctionInitError."""
        self.close()
        server = RuntimeApiServer(self.config.arn).start()
        process = FunctionProcess(self.task_root, server.address, self.config, self.log, self.sink)
        self._server, self._process = server, process
        deadline = time.monotonic() + self.init_timeout_s
        while server.first_next_at is None:
            failure = self._init_failure(server, process, deadline)
            if failure is not None:
                self.close()
                raise FunctionInitError(f"{failure}\n{self.log.tail()}".rstrip())
            server.wait(_TICK_S)
        return (server.first_next_at - process.started_at) * 1000.0

    def _init_failure(
        self, server: RuntimeApiServer, process: FunctionProcess, deadline: float
    ) -> str | None:
        posted = server.posted_error("init")
        if posted is not None:
            body, error_type = posted
            if error_type == BEFORE_SNAPSHOT_ERROR:
                return (
                    "SnapStart before-snapshot hook failed (Lambda would fail the version's publication): "
                    f"{_describe_error(body, error_type)}"
                )
            return f"function init failed: {_describe_error(body, error_type)}"
        restore = server.posted_error("restore")
        if restore is not None:
            return f"SnapStart after-restore hook failed: {_describe_error(*restore)}"
        if not process.alive():
            return f"function process exited with code {process.popen.returncode} during init"
        if time.monotonic() > deadline:
            return f"function init did not finish within {self.init_timeout_s:.0f} s"
        return None

    def invoke(self, event: Any) -> InvocationResult:
        """Send one event; a dead or missing environment is replaced first (a cold start)."""
        init_ms: float | None = None
        if self._server is None or self._process is None or not self._process.alive():
            init_ms = self._start()
        server, process = self._server, self._process
        if server is None or process is None:  # _start either sets both or raises
            raise FunctionInitError("the function environment is not running")
        request_id = server.submit(encode_event(event), self.timeout_s)
        outcome = self._await(server, process, request_id)
        memory = process.peak_memory_mib()
        if outcome is None:  # the process died or timed out: Lambda starts a new environment next time
            reason = self._end_failed(process)
            return InvocationResult(
                request_id,
                False,
                _error_body(*reason),
                reason[0],
                self._elapsed_ms(request_id),
                self.config.memory_mb,
                memory,
                init_ms,
            )
        result = InvocationResult(
            request_id,
            outcome.ok,
            outcome.body,
            None if outcome.ok else _error_type(outcome.body, outcome.error_type),
            outcome.duration_ms,
            self.config.memory_mb,
            memory,
            init_ms,
        )
        if init_ms is not None:
            total = (outcome.posted_at - process.started_at) * 1000.0
            snapshot_at = server.restore_next_at
            snapshot = None if snapshot_at is None else (snapshot_at - process.started_at) * 1000.0
            self.cold_starts.append(ColdStartResult(init_ms, outcome.duration_ms, total, memory, snapshot))
        return result

    def _await(self, server: RuntimeApiServer, process: FunctionProcess, request_id: str) -> Outcome | None:
        while True:
            outcome = server.outcome(request_id)
            if outcome is not None:
                return outcome
            handed = server.handed_out_at(request_id)
            if handed is not None:
                self._handed[request_id] = handed
            started = self._handed.get(request_id)
            if not process.alive():
                return server.outcome(request_id)  # it may have answered just before it ended
            if started is not None and time.perf_counter() - started > self.timeout_s:
                return None
            server.wait(_TICK_S)

    def _elapsed_ms(self, request_id: str) -> float:
        started = self._handed.get(request_id)
        return 0.0 if started is None else (time.perf_counter() - started) * 1000.0

    def _end_failed(self, process: FunctionProcess) -> tuple[str, str]:
        if process.alive():
            reason = ("Sandbox.Timedout", f"Task timed out after {self.timeout_s:.2f} seconds")
        else:
            reason = (
                "Runtime.ExitError",
                f"Runtime exited with error: exit status {process.popen.returncode}",
            )
        self.close()
        return reason


def _error_type(body: bytes, header: str | None) -> str:
    """The error's class as Lambda's error object names it, else the header, else "Unhandled"."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    kind = data.get("errorType") if isinstance(data, dict) else None
    return str(kind or header or "Unhandled")


def _describe_error(body: bytes, error_type: str | None) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        kind = data.get("errorType") or error_type or "Error"
        return f"{kind}: {data.get('errorMessage', '')}"
    return f"{error_type or 'Error'}: {body[:500].decode('utf-8', errors='replace')}"


def describe_error(result: InvocationResult) -> str:
    """`ErrorType: message` of a failed invocation."""
    return _describe_error(result.body, result.error_type)


def run_invocations(
    task_root: Path,
    events: Sequence[Any],
    config: FunctionConfig,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    init_timeout_s: float = DEFAULT_INIT_TIMEOUT_S,
    sink: OutputSink | None = None,
) -> RunResult:
    """Invoke `events` in order on one warm environment (cold for the first); then end it."""
    fn = LocalFunction(task_root, config, timeout_s=timeout_s, init_timeout_s=init_timeout_s, sink=sink)
    return invoke_all(fn, events)


class Session(Protocol):
    """One function environment a run invokes: fnkit's Runtime API or AWS's emulator."""

    log: OutputLog
    cold_starts: list[ColdStartResult]

    def __enter__(self) -> Session: ...
    def __exit__(self, *_exc: object) -> None: ...
    def invoke(self, event: Any) -> InvocationResult: ...


def invoke_all(fn: Session, events: Sequence[Any]) -> RunResult:
    """Start `fn`, invoke `events` in order on it, stop it; every invocation, cold start and log line."""
    with fn:
        results = [fn.invoke(event) for event in events]
    return RunResult(results, fn.cold_starts, fn.log)
