"""The one progress sink: `[label] text` lines, quiet drops progress but not errors, tests capture."""

from __future__ import annotations

import io

import pytest
from fnkit_build.progress import Progress, capture


def test_a_capture_takes_the_lines_from_stderr(
    capsys: pytest.CaptureFixture[str], progress_lines: io.StringIO
) -> None:
    # WHEN a progress line and an error are written under the tests' capture
    Progress("digits").say("export")
    Progress("digits").error("no candidate passes")
    # THEN they are in the capture, prefixed with the label, and neither stdout nor stderr has them
    assert progress_lines.getvalue() == "[digits] export\n[digits] error: no candidate passes\n"
    assert capsys.readouterr() == ("", "")


def test_quiet_drops_progress_but_keeps_errors() -> None:
    # GIVEN a quiet progress
    quiet = Progress("invoke", quiet=True)
    # WHEN it says a line, times a step and reports an error
    with capture() as lines:
        quiet.say("assembling task root")
        with quiet.step("package") as step:
            step.detail = "1 file"
        quiet.error("1 of 2 invocations returned a function error")
    # THEN only the error is there, prefixed with the label
    assert lines.getvalue() == "[invoke] error: 1 of 2 invocations returned a function error\n"


def test_a_step_ends_its_line_with_time_and_detail_or_failed() -> None:
    progress = Progress("m")
    with capture() as lines:
        with progress.step("export") as step:
            step.detail = "opset 18"
        with pytest.raises(ValueError), progress.step("parity"):
            raise ValueError("too far")
    first, second = lines.getvalue().splitlines()
    assert first.startswith("[m] export ... ") and first.endswith(" s: opset 18")
    assert second == "[m] parity ... failed"


def test_under_keeps_quiet_and_changes_the_label_and_a_progress_is_a_callable() -> None:
    model = Progress("bench", quiet=False).under("digits")
    with capture() as lines:
        model("cold starts")
    assert lines.getvalue() == "[digits] cold starts\n"
    assert Progress("bench", quiet=True).under("digits").quiet


def test_without_a_capture_lines_go_to_stderr(
    capsys: pytest.CaptureFixture[str], progress_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the autouse capture lifted for this test
    from fnkit_build import progress

    monkeypatch.setattr(progress, "_captured", [])
    # WHEN a line is said THEN it is on stderr, nothing on stdout, nothing in the lifted capture
    Progress("promote").say("smoke test")
    assert capsys.readouterr() == ("", "[promote] smoke test\n")
    assert progress_lines.getvalue() == ""


def test_a_childs_output_is_passed_through_indented_and_quiet_drops_it() -> None:
    with capture() as lines:
        Progress("invoke").passthrough('{"_aws": {}}')
        Progress("invoke", quiet=True).passthrough("dropped")
    assert lines.getvalue() == '  | {"_aws": {}}\n'


def test_a_promotion_logs_through_the_sink_by_default(progress_lines: io.StringIO) -> None:
    # GIVEN a promotion's dependencies with the default log
    from fnkit_ops.promote.config import Dependencies

    deps = Dependencies(lambda_client=None, cloudwatch=None)
    # WHEN it logs a step THEN the line is the sink's, labelled with the command
    deps.log("live: 10% to version 7")
    assert progress_lines.getvalue() == "[promote] live: 10% to version 7\n"
