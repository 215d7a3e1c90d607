"""Invoke a task root under AWS's Runtime Interface Emulator (RIE), as `sam local invoke` does.

The emulator is started on the host as the image's entrypoint starts it in the container:
`aws-lambda-rie <python> -s -S -m awslambdaric <handler>`, in the task root, with a clean
Lambda-like environment (the function's template Environment included) and its
`AWS_LAMBDA_FUNCTION_TIMEOUT`. Events are POSTed to its invoke endpoint on 127.0.0.1 and a free
port; the answers are the emulator's own (its REPORT lines included, whose `Max Memory Used` is the
memory size, not a measurement). The emulator and its runtime process are always stopped (on an
error and on Ctrl-C too: the emulator stays in the caller's process group, so a terminal's SIGINT
reaches it as well). Where it runs, the host's CPU or (an arm64 function) Graviton2 under qemu, is
`cpu.py`'s: the emulator only ever starts a Python of its own architecture.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnkit_ops.invoke.constants import (
    DEFAULT_INIT_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    RIE_INVOKE_PATH,
    RIE_PORT_ATTEMPTS,
    RIE_REPORT_WAIT_S,
    RIE_START_TIMEOUT_S,
)
from fnkit_ops.invoke.cpu import FunctionCpu, Placement, check_pairing, host_cpu, place, release
from fnkit_ops.invoke.exceptions import EmulatorError, FunctionInitError
from fnkit_ops.invoke.process import (
    FunctionConfig,
    OutputLog,
    OutputSink,
    base_python,
    end_process,
    lambda_environment,
    spawn_logged,
)
from fnkit_ops.invoke.report import InvocationResult, parse_report_line
from fnkit_ops.invoke.rie_binary import RieBinary
from fnkit_ops.invoke.runner import ColdStartResult, encode_event

TIMEOUT_ENV = "AWS_LAMBDA_FUNCTION_TIMEOUT"
_ERROR_KEYS = {"errorType", "errorMessage", "requestId", "stackTrace"}
_TIMED_OUT = re.compile(rb"^Task timed out after [\d.]+ seconds$")
_START = re.compile(r"^START RequestId: (\S+)")
_INIT_REPORT = re.compile(r"\(rapid\) INIT REPORT\(durationMs: ([\d.]+)\)")
_INIT_FAILED = "(rapid) INIT RTDONE(status: error)"
_BUSY = "address already in use"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on 127.0.0.1:`port` (Linux /proc/net/tcp; state 0A is LISTEN)."""
    inodes: set[str] = set()
    with contextlib.suppress(OSError), open("/proc/net/tcp", encoding="ascii") as table:
        for row in table.read().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process `pid` holds: only the emulator's own listener counts as ready
    (a foreign process on the port would otherwise look like the emulator)."""
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(fd.path)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    return inodes


def lambda_error(body: bytes) -> dict[str, Any] | None:
    """Lambda's error object (errorType, errorMessage[, requestId, stackTrace]) when `body` is one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and {"errorType", "errorMessage"} <= set(data) <= _ERROR_KEYS:
        return data
    return None


@dataclass(frozen=True)
class EmulatorAnswer:
    """One HTTP answer of the emulator's invoke endpoint."""

    status: int
    body: bytes

    def error_type(self) -> str | None:
        """None for a function response; else the error's type as the emulator reports it."""
        error = lambda_error(self.body)
        if error is not None:
            return str(error["errorType"])
        if _TIMED_OUT.match(self.body.strip()):
            return "Sandbox.Timedout"
        return None if self.status == 200 else f"HTTP{self.status}"

    def init_error(self, lines: Sequence[str]) -> dict[str, Any] | None:
        """The init error object: a 502 error object while the emulator logged a failed init."""
        error = lambda_error(self.body)
        if self.status == 502 and error is not None and any(_INIT_FAILED in line for line in lines):
            return error
        return None


def emulator_command(placement: Placement, port: int, api: str, handler: str) -> list[str]:
    """The image's entrypoint: the emulator on `port`, serving the Runtime API on `api` to awslambdaric."""
    return [
        *placement.emulator,
        "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
        "--runtime-api-address", api,
        *placement.runtime, "-s", "-S", "-m", "awslambdaric", handler,
    ]  # fmt: skip


class EmulatorProcess:
    """The emulator (its own process group, with the runtime it starts) and its output."""

    def __init__(
        self,
        placement: Placement,
        config: FunctionConfig,
        *,
        timeout_s: float,
        log: OutputLog,
        sink: OutputSink | None,
    ) -> None:
        self.log, self.sink = log, sink
        self.lines = threading.Condition()
        self.port = _free_port()
        api = f"127.0.0.1:{_free_port()}"
        env = {**placement.env, **lambda_environment(placement.task_root, api, config)}
        env[TIMEOUT_ENV] = str(max(1, math.ceil(timeout_s)))
        command = emulator_command(placement, self.port, api, config.handler)
        self.popen, self._readers = spawn_logged(command, cwd=placement.cwd, env=env, on_line=self._on_line)

    def _on_line(self, name: str, line: str) -> None:
        self.log.add(name, line)
        with self.lines:
            self.lines.notify_all()
        if self.sink is not None:
            self.sink(name, line)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_listening(self, timeout_s: float = RIE_START_TIMEOUT_S) -> bool:
        """True once the emulator itself listens on its port; False when it exited first (port taken)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            if _listening_inodes(self.port) & _socket_inodes(self.popen.pid):
                return True
            time.sleep(0.02)
        raise EmulatorError(f"the Runtime Interface Emulator did not listen within {timeout_s:.0f} s")

    def descendants(self) -> list[int]:
        """Processes the emulator started (its runtime), from /proc's children lists."""
        found: list[int] = []
        pending = [self.popen.pid]
        while pending:
            pid = pending.pop()
            with contextlib.suppress(OSError):
                for task in os.scandir(f"/proc/{pid}/task"):
                    with contextlib.suppress(OSError), open(f"{task.path}/children", encoding="ascii") as f:
                        children = [int(child) for child in f.read().split()]
                        found += children
                        pending += children
        return found

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM (the emulator then ends its runtime), SIGKILL if it lingers, and SIGKILL to any
        process it started that is still there; then drain the output."""
        runtime = self.descendants()
        end_process(self.popen, grace_s)
        for pid in runtime:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout=grace_s)


class RieFunction:
    """One function under the emulator, invoked over HTTP. Use as a context manager, or run a list of
    events on one emulator session with `runner.invoke_all(RieFunction(...), events)`."""

    def __init__(
        self,
        binary: RieBinary,
        task_root: Path,
        config: FunctionConfig,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        init_timeout_s: float = DEFAULT_INIT_TIMEOUT_S,
        sink: OutputSink | None = None,
        cpu: FunctionCpu | None = None,
    ) -> None:
        self.cpu = cpu or host_cpu()
        check_pairing(binary.architecture, self.cpu)
        self.binary = binary
        self.task_root = task_root.resolve()
        self.config = config
        self.timeout_s = timeout_s
        self.init_timeout_s = init_timeout_s
        self.log = OutputLog()
        self.cold_starts: list[ColdStartResult] = []
        """Always empty: the emulator's cold start is not split (`--emulator fnkit` splits it)."""
        self.sink = sink
        self._process: EmulatorProcess | None = None
        self._placement: Placement | None = None

    def __enter__(self) -> RieFunction:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def process(self) -> EmulatorProcess | None:
        return self._process

    def start(self) -> None:
        """Place the session (on the host, or inside the arm64 root) and start the emulator there."""
        python = self.config.python or base_python()
        self._placement = place(self.cpu, self.binary.path, self.task_root, python)
        try:
            self._start_on_a_free_port(self._placement)
        except BaseException:
            self.close()
            raise

    def _start_on_a_free_port(self, placement: Placement) -> None:
        """Start the emulator on a free port; a port taken meanwhile is chosen around."""
        for _ in range(RIE_PORT_ATTEMPTS):
            mark = len(self.log)
            process = EmulatorProcess(
                placement, self.config, timeout_s=self.timeout_s, log=self.log, sink=self.sink
            )
            self._process = process
            if process.wait_listening():
                return
            process.stop()
            self._process = None
            said = "\n".join(self._lines_since(mark))
            if _BUSY not in said.lower():
                raise EmulatorError(
                    f"the Runtime Interface Emulator exited with code {process.popen.returncode} "
                    f"before listening:\n{said[-2000:]}"
                )
        raise EmulatorError(
            f"no free port for the Runtime Interface Emulator after {RIE_PORT_ATTEMPTS} tries"
        )

    def close(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._placement is not None:
            release(self._placement)
            self._placement = None

    def _post(self, payload: bytes) -> EmulatorAnswer:
        if self._process is None or not self._process.alive():
            raise EmulatorError("the Runtime Interface Emulator is not running")
        connection = http.client.HTTPConnection(
            "127.0.0.1", self._process.port, timeout=self.timeout_s + self.init_timeout_s
        )
        try:
            connection.request("POST", RIE_INVOKE_PATH, payload, {"Content-Type": "application/json"})
            answer = connection.getresponse()
            return EmulatorAnswer(answer.status, answer.read())
        except (OSError, http.client.HTTPException) as exc:
            raise EmulatorError(f"the Runtime Interface Emulator did not answer: {exc}") from exc
        finally:
            connection.close()

    def invoke(self, event: Any) -> InvocationResult:
        """POST one event; the emulator replaces a failed runtime itself, as Lambda does."""
        mark = len(self.log)
        started = time.perf_counter()
        answer = self._post(encode_event(event))
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        lines = self._lines_of_invocation(mark)
        init_error = answer.init_error(lines)
        if init_error is not None:
            raise FunctionInitError(
                f"function init failed: {init_error['errorType']}: {init_error.get('errorMessage', '')} "
                f"(the emulator answered HTTP {answer.status} with Lambda's init error object)\n"
                f"{self.log.tail()}".rstrip()
            )
        report = next((line for line in lines if line.startswith("REPORT ")), None)
        start = next((m.group(1) for line in lines if (m := _START.match(line))), "")
        init = next((float(m.group(1)) for line in lines if (m := _INIT_REPORT.search(line))), None)
        parsed = parse_report_line(report) if report else None
        error_type = answer.error_type()
        return InvocationResult(
            request_id=parsed.request_id if parsed else start,
            ok=error_type is None,
            body=answer.body,
            error_type=error_type,
            duration_ms=parsed.duration_ms if parsed else elapsed_ms,
            memory_size_mb=parsed.memory_size_mb if parsed else self.config.memory_mb,
            max_memory_used_mb=float(parsed.max_memory_used_mb) if parsed else 0.0,
            init_ms=init,
            report=report.rstrip() if report else None,
            http_status=answer.status,
        )

    def _lines_of_invocation(self, mark: int) -> list[str]:
        """The emulator's lines since `mark`, once its REPORT line is among them (bounded wait)."""
        deadline = time.monotonic() + RIE_REPORT_WAIT_S
        process = self._process
        while True:
            lines = self._lines_since(mark)
            if any(line.startswith("REPORT ") for line in lines) or process is None:
                return lines
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return lines
            with process.lines:
                process.lines.wait(min(remaining, 0.05))

    def _lines_since(self, mark: int) -> list[str]:
        with self.log.lock:
            return [line for _, line in self.log.lines[mark:]]
