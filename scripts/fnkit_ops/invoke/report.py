"""Invocation results and Lambda's REPORT line: format it, parse it back."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_REPORT = re.compile(
    r"^REPORT RequestId: (?P<request_id>\S+)\s+"
    r"Duration: (?P<duration>[\d.]+) ms\s+"
    r"Billed Duration: (?P<billed>\d+) ms\s+"
    r"Memory Size: (?P<memory>\d+) MB\s+"
    r"Max Memory Used: (?P<used>\d+) MB"
    r"(?:\s+Init Duration: (?P<init>[\d.]+) ms)?\s*$"
)


@dataclass(frozen=True)
class InvocationResult:
    """One invocation as the local runtime saw it."""

    request_id: str
    ok: bool
    """False when the function posted an error (or died, or timed out)."""
    body: bytes
    error_type: str | None
    """For a failure, the error object's errorType (e.g. ValueError, Sandbox.Timedout, Runtime.ExitError)."""
    duration_ms: float
    """From the event leaving the Runtime API to the response arriving."""
    memory_size_mb: int
    max_memory_used_mb: float
    """Peak RSS of the function process so far (Lambda's Max Memory Used)."""
    init_ms: float | None = None
    """Only on a cold invocation: process start to the function's first `next` request."""

    @property
    def cold(self) -> bool:
        return self.init_ms is not None

    @property
    def billed_ms(self) -> int:
        """Duration rounded up to the millisecond; a cold start also bills its init phase."""
        return math.ceil(self.duration_ms + (self.init_ms or 0.0))

    def response(self) -> Any:
        """The posted JSON (a response, or Lambda's error object); None when the body is not JSON."""
        import json

        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def report_line(self) -> str:
        return format_report_line(self)


@dataclass(frozen=True)
class ReportLine:
    """The figures of a parsed REPORT line."""

    request_id: str
    duration_ms: float
    billed_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_ms: float | None


def format_report_line(result: InvocationResult) -> str:
    """Lambda's REPORT line (tab separated); Init Duration only on a cold invocation."""
    fields = [
        f"REPORT RequestId: {result.request_id}",
        f"Duration: {result.duration_ms:.2f} ms",
        f"Billed Duration: {result.billed_ms} ms",
        f"Memory Size: {result.memory_size_mb} MB",
        f"Max Memory Used: {math.ceil(result.max_memory_used_mb)} MB",
    ]
    if result.init_ms is not None:
        fields.append(f"Init Duration: {result.init_ms:.2f} ms")
    return "\t".join(fields)


def parse_report_line(line: str) -> ReportLine:
    """Parse a REPORT line as Lambda (or `fnkit invoke`) prints it; ValueError when it is not one."""
    match = _REPORT.match(line.strip())
    if match is None:
        raise ValueError(f"not a REPORT line: {line!r}")
    init = match.group("init")
    return ReportLine(
        request_id=match.group("request_id"),
        duration_ms=float(match.group("duration")),
        billed_ms=int(match.group("billed")),
        memory_size_mb=int(match.group("memory")),
        max_memory_used_mb=int(match.group("used")),
        init_ms=float(init) if init is not None else None,
    )
