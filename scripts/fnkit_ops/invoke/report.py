"""Invocation results and Lambda's REPORT line: format it, parse it back."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_REPORT_FIELD = re.compile(r"^(?P<name>[A-Za-z ]+): (?P<value>\S+)(?: (?:ms|MB))?$")
_REPORT_FIELDS = ("RequestId", "Duration", "Billed Duration", "Memory Size", "Max Memory Used")


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
    report: str | None = None
    """The emulator's own REPORT line, when an emulator printed one (AWS's RIE does)."""
    http_status: int | None = None
    """The HTTP status of the emulator's invoke endpoint (AWS's RIE only)."""

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
        """The emulator's REPORT line if it printed one, else fnkit's, from the measured figures."""
        return self.report if self.report is not None else format_report_line(self)


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
    """Parse a REPORT line as Lambda, AWS's RIE (Init Duration first) or `fnkit invoke` prints it.

    ValueError when it is not one.
    """
    text = line.strip()
    if not text.startswith("REPORT "):
        raise ValueError(f"not a REPORT line: {line!r}")
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.removeprefix("REPORT ").split("\t"))):
        match = _REPORT_FIELD.match(part)
        if match is None:
            raise ValueError(f"not a REPORT line: {line!r} (field {part!r})")
        fields[match.group("name")] = match.group("value")
    missing = [name for name in _REPORT_FIELDS if name not in fields]
    if missing:
        raise ValueError(f"not a REPORT line: {line!r} (missing {', '.join(missing)})")
    try:
        init = fields.get("Init Duration")
        return ReportLine(
            request_id=fields["RequestId"],
            duration_ms=float(fields["Duration"]),
            billed_ms=int(fields["Billed Duration"]),
            memory_size_mb=int(fields["Memory Size"]),
            max_memory_used_mb=int(fields["Max Memory Used"]),
            init_ms=float(init) if init is not None else None,
        )
    except ValueError as exc:
        raise ValueError(f"not a REPORT line: {line!r} ({exc})") from exc
