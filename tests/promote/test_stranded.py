"""Promotions that cannot be left half-done: signals roll back, a killed run's shift is found by its
mark and rolled back by the next run, a shift fnkit did not start is left alone, and an image a gate
rolled back is not canaried again. End to end against moto with the fake clock; SIGTERM and SIGINT
are real signals sent to this process.
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from typing import Any

import pytest

from .conftest import FUNCTION, IMAGE, FakeClock, Stack

HEALTHY_P99 = {"1": 100.0, "2": 110.0, "3": 105.0, "4": 108.0}


def _canary(version: str = "2", *extra: str) -> list[str]:
    return ["--function", FUNCTION, "--version", version, "--strategy", "canary:10:5", *extra]


class Killed(BaseException):
    """SIGKILL, simulated: the process stops where it is, and no code of the promotion runs after it
    (no handler catches a BaseException it does not know)."""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_canary_rolls_back_and_exits_1(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any, signum: signal.Signals
):
    # GIVEN healthy traffic and a CI runner that cancels the job two minutes into the canary
    steady_traffic({"2": (10, 0), "1": (90, 0)})

    def cancel(c: FakeClock) -> None:
        if len(c.sleeps) == 2:
            os.kill(os.getpid(), signum)

    clock.on_sleep.append(cancel)
    handler_before = signal.getsignal(signum)

    # WHEN promoting
    run = run_promote(_canary(), p99_ms=HEALTHY_P99)

    # THEN the alias is back at version 1 with no routing, exit 1, the report says why
    assert run.code == 1, run.lines
    assert stack.alias() == {"version": "1", "weights": {}}
    assert run.weights == [0.1, 0.0]
    assert run.report["outcome"] == "rolled_back" and run.report["exit_code"] == 1
    assert run.report["interrupted_by"] == signum.name
    assert f"interrupted by {signum.name}" in run.report["reason"]
    # AND an interruption is no verdict on the version: nothing recorded as rejected
    assert run.report["rejection"] is None and stack.description() == ""
    # AND the process's own handlers are back
    assert signal.getsignal(signum) == handler_before


def test_a_second_signal_does_not_interrupt_the_rollback(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN a SIGTERM mid-canary, and another one while the rollback reads the alias back
    steady_traffic({"2": (10, 0), "1": (90, 0)})
    clock.on_sleep.append(lambda c: os.kill(os.getpid(), signal.SIGTERM) if len(c.sleeps) == 1 else None)
    original_get = stack.lam.get_alias
    calls: list[int] = []

    def get_alias(**request: Any) -> Any:
        calls.append(1)
        if clock.sleeps and len(calls) == 3:  # preflight, the step's check, then the rollback's read
            os.kill(os.getpid(), signal.SIGTERM)
        return original_get(**request)

    stack.lam.get_alias = get_alias  # type: ignore[method-assign]

    # WHEN promoting
    run = run_promote(_canary(), p99_ms=HEALTHY_P99)

    # THEN the rollback completed all the same
    assert run.code == 1, run.lines
    assert stack.alias() == {"version": "1", "weights": {}}
    assert any("signals received while rolling back" in line for line in run.lines)


def test_sigkill_mid_canary_then_a_newer_version_converges(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN a run promoting version 2 killed two minutes into its canary (10 % stranded on 2)
    steady_traffic({"2": (10, 0), "3": (10, 0), "1": (90, 0)})

    def kill(c: FakeClock) -> None:
        if len(c.sleeps) == 2:
            raise Killed

    clock.on_sleep.append(kill)
    with pytest.raises(Killed):
        run_promote(_canary("2", "--run-id", "push-41"), p99_ms=HEALTHY_P99)
    clock.on_sleep.remove(kill)
    assert stack.alias() == {"version": "1", "weights": {"2": 0.1}}
    assert stack.description().startswith("fnkit:1 shift=push-41/2/")

    # WHEN the next push promotes version 3
    run = run_promote(_canary("3", "--run-id", "push-42"), p99_ms=HEALTHY_P99)

    # THEN the stale shift is rolled back first, then version 3 is canaried and promoted
    assert run.code == 0, run.lines
    assert stack.alias() == {"version": "3", "weights": {}}
    assert stack.description() == ""
    assert run.report["stale_shift"] == {"run_id": "push-41", "version": "2", "sha256": stack.sha256("2")}
    actions = [w["action"] for w in run.report["alias_writes"]]
    assert actions == ["rollback stale shift of run push-41", "route 0.1", "promote"]
    assert run.report["previous_version"] == "1"


@pytest.mark.parametrize(
    ("routing", "argv"),
    [
        pytest.param({"3": 0.2}, _canary("2"), id="to-another-version"),
        pytest.param({"2": 0.2}, _canary("2", "--on-resume", "resume"), id="to-the-target-itself"),
    ],
)
def test_a_shift_without_fnkits_mark_is_left_alone(
    stack: Stack, clock: FakeClock, run_promote: Any, routing: dict[str, float], argv: list[str]
):
    # GIVEN someone else (a person, CodeDeploy) routing a weight, with their own description
    stack.set_routing("1", routing, "manual test of version 3")

    # WHEN promoting
    run = run_promote(argv)

    # THEN exit 2, nothing changed: routing and description are theirs
    assert run.code == 2, run.lines
    assert "without fnkit's mark" in run.report["reason"]
    assert stack.alias() == {"version": "1", "weights": routing}
    assert stack.description() == "manual test of version 3"
    assert run.report["alias_writes"] == [] and clock.sleeps == []


def _fail_version_2(stack: Stack, run_promote: Any, steady_traffic: Any) -> Any:
    steady_traffic({"2": (10, 5), "3": (10, 0), "4": (10, 0), "1": (90, 0)})
    run = run_promote(_canary("2"), p99_ms=HEALTHY_P99)
    assert run.code == 1, run.lines
    return run


def test_a_rolled_back_image_is_recorded_on_the_alias(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # WHEN version 2 fails its canary
    run = _fail_version_2(stack, run_promote, steady_traffic)

    # THEN the rollback recorded its CodeSha256 where the next CI run reads it: the alias
    assert stack.alias() == {"version": "1", "weights": {}}
    assert stack.description() == f"fnkit:1 rejected={stack.sha256('2')[:16]}"
    assert run.report["rejection"] == {"sha256": stack.sha256("2"), "recorded": True}


def test_a_rejected_image_is_not_canaried_again(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN version 2 was rolled back, and a later deploy published version 4 from the same image
    _fail_version_2(stack, run_promote, steady_traffic)
    stack.lam.update_function_code(FunctionName=FUNCTION, ImageUri=IMAGE.format(tag="v2"))
    assert stack.lam.publish_version(FunctionName=FUNCTION)["Version"] == "4"
    before, waited = stack.description(), len(clock.sleeps)

    # WHEN the next runs promote version 2 again, and version 4
    again = run_promote(_canary("2"))
    same_image = run_promote(_canary("4"))

    # THEN both are skipped with exit 2 and nothing changed, saying how to insist
    for run in (again, same_image):
        assert run.code == 2, run.lines
        assert run.report["outcome"] == "skipped_rejected"
        assert "--retry-rejected" in run.report["reason"] and run.report["alias_writes"] == []
    assert stack.alias() == {"version": "1", "weights": {}} and stack.description() == before
    assert len(clock.sleeps) == waited
    # AND another image (version 3) is promoted as usual, keeping the record of version 2's
    other = run_promote(_canary("3"), p99_ms=HEALTHY_P99)
    assert other.code == 0, other.lines
    assert stack.description() == before


def test_retry_rejected_canaries_it_and_a_pass_clears_the_record(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN version 2 was rolled back, and its errors have since gone (the cause was elsewhere)
    _fail_version_2(stack, run_promote, steady_traffic)
    clock.on_sleep.clear()
    clock.now += timedelta(minutes=10)  # past the failed canary's metrics
    steady_traffic({"2": (10, 0), "1": (90, 0)})

    # WHEN promoting it again with --retry-rejected
    run = run_promote(_canary("2", "--retry-rejected"), p99_ms=HEALTHY_P99)

    # THEN it is canaried and promoted, and no longer listed as rejected
    assert run.code == 0, run.lines
    assert stack.alias() == {"version": "2", "weights": {}}
    assert stack.description() == ""


def test_the_mark_names_run_target_and_image_during_the_shift(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN a record of what the alias's description says after each poll
    steady_traffic({"2": (10, 0), "1": (90, 0)})
    seen: list[str] = []
    clock.on_sleep.append(lambda _c: seen.append(stack.description()))

    # WHEN promoting with a run id
    run = run_promote(_canary("2", "--run-id", "gh-123-1"), p99_ms=HEALTHY_P99)

    # THEN every weighted moment carried the mark, and the promotion removed it
    assert run.code == 0, run.lines
    assert set(seen) == {f"fnkit:1 shift=gh-123-1/2/{stack.sha256('2')}"}
    assert stack.description() == "" and run.report["run_id"] == "gh-123-1"


@pytest.mark.parametrize("run_id", ["has space", "slash/ed", "x" * 41, ""])
def test_a_bad_run_id_is_exit_2(stack: Stack, clock: FakeClock, run_promote: Any, run_id: str):
    run = run_promote(_canary("2", "--run-id", run_id))
    if run_id == "":
        # an empty run id means "generate one"
        assert run.report["run_id"]
        return
    assert run.code == 2 and "--run-id" in run.report["reason"]
    assert stack.alias() == {"version": "1", "weights": {}}
