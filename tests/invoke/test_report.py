"""Lambda's REPORT line: formatting and parsing."""

from __future__ import annotations

import dataclasses

import pytest
from fnkit_ops.invoke import InvocationResult, ReportLine, format_report_line, parse_report_line


def _result(duration_ms: float, init_ms: float | None, memory_mib: float = 71.2) -> InvocationResult:
    return InvocationResult(
        request_id="8f5c3f0e-1f2a-4d2b-9a53-3c3c0c1e2f10",
        ok=True,
        body=b"{}",
        error_type=None,
        duration_ms=duration_ms,
        memory_size_mb=1024,
        max_memory_used_mb=memory_mib,
        init_ms=init_ms,
    )


def test_cold_report_line_has_init_and_bills_it() -> None:
    # WHEN a cold invocation is formatted
    line = format_report_line(_result(12.341, init_ms=151.27))

    # THEN it reads like Lambda's, with tabs, memory rounded up and init billed
    assert line == (
        "REPORT RequestId: 8f5c3f0e-1f2a-4d2b-9a53-3c3c0c1e2f10\tDuration: 12.34 ms\t"
        "Billed Duration: 164 ms\t"
        "Memory Size: 1024 MB\tMax Memory Used: 72 MB\tInit Duration: 151.27 ms"
    )


def test_warm_report_line_has_no_init() -> None:
    # WHEN a warm invocation is formatted
    line = format_report_line(_result(0.61, init_ms=None))

    # THEN there is no Init Duration and the billed duration rounds up to 1 ms
    assert "Init Duration" not in line
    assert "Billed Duration: 1 ms" in line


@pytest.mark.parametrize("init_ms", [pytest.param(None, id="warm"), pytest.param(250.5, id="cold")])
def test_format_then_parse_round_trips(init_ms: float | None) -> None:
    # GIVEN an invocation
    result = _result(3.5, init_ms)

    # WHEN its line is parsed back
    report = parse_report_line(format_report_line(result))

    # THEN the figures survive
    assert report.request_id == result.request_id
    assert report.duration_ms == 3.5
    assert report.billed_ms == result.billed_ms
    assert report.memory_size_mb == 1024
    assert report.max_memory_used_mb == 72
    assert report.init_ms == init_ms


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            "REPORT RequestId: 3f1e2d4c-aaaa-bbbb-cccc-0123456789ab\tDuration: 2.57 ms\t"
            "Billed Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 39 MB\t"
            "Init Duration: 140.80 ms\t\n",
            ReportLine("3f1e2d4c-aaaa-bbbb-cccc-0123456789ab", 2.57, 3, 128, 39, 140.80),
            id="lambda-cloudwatch",
        ),
        pytest.param(
            "REPORT RequestId: 84442fc3-4fd4-416c-beca-55dfd8016555\tInit Duration: 0.03 ms\t"
            "Duration: 951.61 ms\tBilled Duration: 952 ms\tMemory Size: 1024 MB\tMax Memory Used: 1024 MB\t",
            ReportLine("84442fc3-4fd4-416c-beca-55dfd8016555", 951.61, 952, 1024, 1024, 0.03),
            id="rie-init-first-trailing-tab",
        ),
    ],
)
def test_parses_report_lines_as_lambda_and_the_emulator_print_them(line: str, expected: ReportLine) -> None:
    # GIVEN a REPORT line copied from CloudWatch Logs, or as AWS's RIE prints it (Init Duration first,
    # a trailing tab)

    # WHEN it is parsed
    report = parse_report_line(line)

    # THEN every figure is read, by name, whatever the fields' order
    assert report == expected


def test_an_emulators_own_report_line_is_kept() -> None:
    # GIVEN an invocation that carries the emulator's REPORT line
    line = (
        "REPORT RequestId: r\tDuration: 2.31 ms\tBilled Duration: 3 ms\t"
        "Memory Size: 1024 MB\tMax Memory Used: 1024 MB"
    )
    result = dataclasses.replace(_result(2.31, init_ms=None), report=line)

    # THEN that line is the one shown, not one formatted from fnkit's own figures
    assert result.report_line() == line


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("START RequestId: x Version: $LATEST", id="start-line"),
        pytest.param("REPORT RequestId: x\tDuration: 1 ms", id="truncated"),
        pytest.param("", id="empty"),
    ],
)
def test_other_lines_are_rejected(line: str) -> None:
    with pytest.raises(ValueError, match="not a REPORT line"):
        parse_report_line(line)
