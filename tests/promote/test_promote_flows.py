"""End-to-end promotions against moto (Lambda aliases with RoutingConfig, CloudWatch alarms and
metrics), with a fake clock: `sleep` advances virtual time and triggers the test's traffic or alarm
changes, so nothing waits for real. p99 comes from conftest's P99CloudWatch (moto cannot compute it).
"""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from fnkit_ops.promote import cli as promote_cli
from fnkit_ops.promote.config import Dependencies

from .conftest import ALARM, FUNCTION, FakeClock, P99CloudWatch, Stack

HEALTHY_P99 = {"1": 100.0, "2": 110.0}


def _canary(*extra: str) -> list[str]:
    return ["--function", FUNCTION, "--version", "2", "--strategy", "canary:10:5", *extra]


# --- happy paths ---------------------------------------------------------------------------------


def test_canary_shifts_ten_percent_then_all(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN live → 1, an OK alarm, and traffic on both versions after every minute
    stack.add_alarm()
    steady_traffic({"2": (10, 0), "1": (90, 0)})

    # WHEN promoting version 2 with canary:10:5
    run = run_promote(_canary("--alarm", ALARM), p99_ms=HEALTHY_P99)

    # THEN 10 % for five virtual minutes, then everything; no routing left
    assert run.code == 0, run.lines
    assert run.weights == [0.1, 1.0]
    assert stack.alias() == {"version": "2", "weights": {}}
    assert clock.elapsed == 300
    report = run.report
    assert report["outcome"] == "promoted" and report["exit_code"] == 0
    assert report["previous_version"] == "1" and report["target_version"] == "2"
    [step] = report["steps"]
    assert step["weight"] == 0.1 and step["result"] == "passed"
    final = step["readings"][-1]
    assert final["final"] is True and final["verdict"] == "pass"
    assert final["new"]["invocations"] == 50 and final["old"]["invocations"] == 450
    assert final["new"]["p99_ms"] == 110.0 and final["alarms"] == {ALARM: "OK"}
    assert report["final_alias"]["function_version"] == "2" and report["final_alias"]["weights"] == {}
    assert any("promoted" in line for line in run.lines)


def test_canary_reads_the_new_version_by_executed_version(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN traffic on both versions
    steady_traffic({"2": (10, 0), "1": (90, 0)})

    # WHEN promoting
    parser_p99 = dict(HEALTHY_P99)
    run = run_promote(_canary(), p99_ms=parser_p99)

    # THEN the readings keep the two versions apart (10 vs 90 per minute): nothing is diluted
    assert run.code == 0
    readings = run.report["steps"][0]["readings"]
    assert [r["new"]["invocations"] for r in readings] == [0, 10, 20, 30, 40, 50]
    assert [r["old"]["invocations"] for r in readings] == [0, 90, 180, 270, 360, 450]


def test_linear_steps_up_then_promotes(stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any):
    # GIVEN healthy traffic
    steady_traffic({"2": (15, 0), "1": (45, 0)})

    # WHEN promoting with linear:25:2
    run = run_promote(
        ["--function", FUNCTION, "--version", "2", "--strategy", "linear:25:2"], p99_ms=HEALTHY_P99
    )

    # THEN 25, 50, 75 % for two minutes each, then 100 %
    assert run.code == 0, run.lines
    assert run.weights == [0.25, 0.5, 0.75, 1.0]
    assert [s["weight"] for s in run.report["steps"]] == [0.25, 0.5, 0.75]
    assert all(s["result"] == "passed" for s in run.report["steps"])
    assert clock.elapsed == 3 * 120
    assert stack.alias() == {"version": "2", "weights": {}}


def test_all_at_once_moves_straight_to_the_new_version(stack: Stack, clock: FakeClock, run_promote: Any):
    # GIVEN no traffic at all (all-at-once has no step to judge numbers in)
    # WHEN promoting all at once
    run = run_promote(["--function", FUNCTION, "--version", "3", "--strategy", "all-at-once"])

    # THEN one write, no waiting
    assert run.code == 0
    assert run.weights == [1.0]
    assert clock.sleeps == []
    assert stack.alias() == {"version": "3", "weights": {}}


def test_publish_image_updates_latest_publishes_and_promotes(
    stack: Stack, clock: FakeClock, run_promote: Any
):
    # GIVEN a new image for $LATEST
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fnkit-digits:v4"

    # WHEN promoting it straight from the image URI
    run = run_promote(["--function", FUNCTION, "--publish-image", image, "--strategy", "all-at-once"])

    # THEN version 4 was published from that image and promoted
    assert run.code == 0, run.lines
    assert run.report["published"]["version"] == "4"
    assert run.report["published"]["image_uri"] == image
    assert stack.alias() == {"version": "4", "weights": {}}
    assert stack.lam.get_function(FunctionName=FUNCTION)["Code"]["ImageUri"] == image


# --- gates failing mid-shift -----------------------------------------------------------------


def test_alarm_firing_mid_canary_rolls_back(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN an OK alarm that goes to ALARM after the second minute of the canary
    stack.add_alarm()
    steady_traffic({"2": (10, 0), "1": (90, 0)})

    def fire(c: FakeClock) -> None:
        if len(c.sleeps) == 2:
            stack.set_alarm(ALARM, "ALARM")

    clock.on_sleep.append(fire)

    # WHEN promoting
    run = run_promote(_canary("--alarm", ALARM), p99_ms=HEALTHY_P99)

    # THEN rollback at the first reading after the alarm fired, without waiting out the canary
    assert run.code == 1
    assert run.weights == [0.1, 0.0]
    assert stack.alias() == {"version": "1", "weights": {}}
    assert clock.elapsed == 120
    assert run.report["outcome"] == "rolled_back"
    assert f"alarm {ALARM} is in ALARM" in run.report["reason"]
    assert run.report["steps"][0]["result"] == "failed"


@pytest.mark.parametrize(
    ("new_traffic", "p99", "extra", "expected"),
    [
        pytest.param((10, 2), HEALTHY_P99, [], "--max-error-rate", id="error-rate-over-threshold"),
        pytest.param(
            (10, 1),
            HEALTHY_P99,
            ["--max-error-rate", "0.5"],
            "--max-error-rate-delta",
            id="error-rate-vs-old",
        ),
        pytest.param((10, 0), {"1": 100.0, "2": 300.0}, [], "--max-p99-ratio", id="p99-vs-old"),
        pytest.param((10, 0), HEALTHY_P99, ["--max-p99-ms", "105"], "--max-p99-ms", id="p99-over-threshold"),
    ],
)
def test_new_version_health_over_threshold_rolls_back(
    stack: Stack,
    clock: FakeClock,
    run_promote: Any,
    steady_traffic: Any,
    new_traffic: tuple[int, int],
    p99: dict[str, float],
    extra: list[str],
    expected: str,
):
    # GIVEN the new version misbehaves while the old one, with 90x the traffic, is clean: the
    # aggregate error rate of the alias would stay under 1 %, the new version's own rate does not
    steady_traffic({"2": new_traffic, "1": (900, 0)})

    # WHEN promoting
    run = run_promote(_canary(*extra), p99_ms=p99)

    # THEN rolled back as soon as the new version has --min-invocations (20 = two minutes)
    assert run.code == 1, run.lines
    assert run.weights == [0.1, 0.0]
    assert stack.alias() == {"version": "1", "weights": {}}
    assert clock.elapsed == 120
    assert expected in run.report["reason"]


@pytest.mark.parametrize(
    ("policy", "code", "alias"),
    [
        pytest.param("fail", 1, {"version": "1", "weights": {}}, id="fail"),
        pytest.param("pass", 0, {"version": "2", "weights": {}}, id="pass"),
    ],
)
def test_too_few_invocations_waits_out_the_step_then_applies_the_policy(
    stack: Stack,
    clock: FakeClock,
    run_promote: Any,
    steady_traffic: Any,
    policy: str,
    code: int,
    alias: dict[str, Any],
):
    # GIVEN one request a minute reaches the canary (5 in the step, fewer than the 20 needed)
    steady_traffic({"2": (1, 0), "1": (9, 0)})

    # WHEN promoting with the given --insufficient-traffic policy
    run = run_promote(_canary("--insufficient-traffic", policy), p99_ms=HEALTHY_P99)

    # THEN it waited the whole step (readings said "wait"), then failed or passed as told
    assert run.code == code, run.lines
    assert clock.elapsed == 300
    readings = run.report["steps"][0]["readings"]
    assert [r["verdict"] for r in readings[:-1]] == ["wait"] * 5
    assert "fewer than --min-invocations 20" in readings[-1]["reasons"][0]
    assert stack.alias() == alias


@pytest.mark.parametrize(
    ("policy", "code", "elapsed", "alias"),
    [
        pytest.param("fail", 2, 0, {"version": "1", "weights": {}}, id="fail-before-moving"),
        pytest.param("wait", 1, 300, {"version": "1", "weights": {}}, id="wait-then-fail"),
        pytest.param("ignore", 0, 300, {"version": "2", "weights": {}}, id="ignore"),
    ],
)
def test_alarm_insufficient_data_policy(
    stack: Stack,
    clock: FakeClock,
    run_promote: Any,
    steady_traffic: Any,
    policy: str,
    code: int,
    elapsed: int,
    alias: dict[str, Any],
):
    # GIVEN an alarm that stays INSUFFICIENT_DATA, and healthy traffic
    stack.add_alarm(state="INSUFFICIENT_DATA")
    steady_traffic({"2": (10, 0), "1": (90, 0)})

    # WHEN promoting with the given --insufficient-data policy
    run = run_promote(_canary("--alarm", ALARM, "--insufficient-data", policy), p99_ms=HEALTHY_P99)

    # THEN fail refuses up front, wait fails when the step ends, ignore promotes
    assert run.code == code, run.lines
    assert clock.elapsed == elapsed
    assert stack.alias() == alias


# --- faults: interrupted runs and concurrent writers --------------------------------------------


def test_interrupted_run_resumes_from_the_current_weight(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN a linear:25:1 run killed while 50 % went to version 2 (the alias carries fnkit's mark)
    stack.fnkit_shift("1", "2", 0.5)
    steady_traffic({"2": (30, 0), "1": (30, 0)})

    # WHEN run again with --on-resume resume
    run = run_promote(
        ["--function", FUNCTION, "--version", "2", "--strategy", "linear:25:1", "--on-resume", "resume"],
        p99_ms=HEALTHY_P99,
    )

    # THEN 50 % is baked again (re-marked as this run's shift), then 75 %, then 100 %
    assert run.code == 0, run.lines
    assert run.report["resumed_from_weight"] == 0.5
    assert [s["weight"] for s in run.report["steps"]] == [0.5, 0.75]
    assert run.weights == [0.5, 0.75, 1.0]
    first = run.report["alias_writes"][0]["state"]["description"]
    assert first == f"fnkit:1 shift={run.report['run_id']}/2/{stack.sha256('2')}"
    assert stack.alias() == {"version": "2", "weights": {}}
    assert stack.description() == ""


def test_interrupted_run_rolls_back_on_request(stack: Stack, clock: FakeClock, run_promote: Any):
    # GIVEN a run killed at 10 %
    stack.fnkit_shift("1", "2", 0.1)

    # WHEN run again with --on-resume rollback
    run = run_promote(_canary("--on-resume", "rollback"))

    # THEN the alias is back at version 1 with no routing, exit 1, without waiting
    assert run.code == 1
    assert run.weights == [0.0]
    assert stack.alias() == {"version": "1", "weights": {}}
    assert clock.sleeps == []
    assert "--on-resume rollback" in run.report["reason"]
    # AND a rollback asked for is no verdict on the version: nothing recorded as rejected
    assert stack.description() == "" and run.report["rejection"] is None


def test_interrupted_run_without_a_resume_policy_changes_nothing(
    stack: Stack, clock: FakeClock, run_promote: Any
):
    # GIVEN a run killed at 10 %
    stack.fnkit_shift("1", "2", 0.1)
    before = stack.description()

    # WHEN run again without --on-resume
    run = run_promote(_canary())

    # THEN a precondition error naming the flag; the alias keeps its routing and mark
    assert run.code == 2
    assert "--on-resume" in run.report["reason"]
    assert stack.alias() == {"version": "1", "weights": {"2": 0.1}}
    assert stack.description() == before


def test_alias_moved_by_someone_else_during_the_bake_aborts_without_writing(
    stack: Stack, clock: FakeClock, run_promote: Any, steady_traffic: Any
):
    # GIVEN somebody points the alias at version 3 one minute into the canary (moto keeps the
    # RevisionId unchanged, so this is caught by comparing the alias's routing with our last write)
    steady_traffic({"2": (10, 0), "1": (90, 0)})

    def operator(c: FakeClock) -> None:
        if len(c.sleeps) == 1:
            stack.set_routing("3", {})

    clock.on_sleep.append(operator)

    # WHEN promoting
    run = run_promote(_canary(), p99_ms=HEALTHY_P99)

    # THEN exit 3, no rollback write over the other writer's change
    assert run.code == 3, run.lines
    assert run.report["outcome"] == "aborted"
    assert run.weights == [0.1]
    assert stack.alias() == {"version": "3", "weights": {}}


def test_dry_run_changes_nothing(stack: Stack, clock: FakeClock, run_promote: Any):
    # GIVEN an OK alarm
    stack.add_alarm()

    # WHEN dry-running a canary
    run = run_promote(_canary("--alarm", ALARM, "--dry-run"))

    # THEN exit 0, the plan in the report, no writes and no waiting
    assert run.code == 0
    assert run.report["outcome"] == "dry_run"
    assert "10% for 5 min" in run.report["reason"]
    assert run.report["alias_writes"] == []
    assert clock.sleeps == []
    assert stack.alias() == {"version": "1", "weights": {}}


# --- bad inputs: exit 2, nothing changed ------------------------------------------------------


def _args(**overrides: str) -> list[str]:
    base = {"--function": FUNCTION, "--version": "2", "--strategy": "canary:10:5"}
    base.update(overrides)
    return [token for pair in base.items() for token in pair]


FORMS = "expected all-at-once, canary:PERCENT:MINUTES or linear:PERCENT:MINUTES"


@pytest.mark.parametrize(
    ("strategy", "reason"),
    [
        pytest.param("canary", FORMS, id="no-numbers"),
        pytest.param("canary:10", FORMS, id="no-minutes"),
        pytest.param("canary:10:5:1", FORMS, id="extra-field"),
        pytest.param("canary:-1:5", FORMS, id="negative"),
        pytest.param("canary:10.123:5", FORMS, id="three-decimals"),
        pytest.param("linear:10", FORMS, id="linear-no-minutes"),
        pytest.param("blue-green", FORMS, id="unknown-kind"),
        pytest.param("", FORMS, id="empty"),
        pytest.param("canary:0:5", "percent 0 must be > 0 and < 100", id="zero-percent"),
        pytest.param("canary:100:5", "percent 100 must be > 0 and < 100", id="hundred-percent"),
        pytest.param("linear:0:1", "percent 0 must be > 0 and < 100", id="linear-zero-percent"),
        pytest.param("canary:10:0", "minutes 0 must be 1..1440", id="zero-minutes"),
        pytest.param("linear:10:99999", "minutes 99999 must be 1..1440", id="too-many-minutes"),
    ],
)
def test_bad_strategy_is_a_usage_error(
    stack: Stack, clock: FakeClock, run_promote: Any, strategy: str, reason: str
):
    # WHEN the strategy string is malformed
    run = run_promote(_args(**{"--strategy": strategy}))

    # THEN exit 2 with the reason; nothing changed
    assert run.code == 2
    assert reason in run.report["reason"]
    assert run.report["outcome"] == "precondition_failed"
    assert stack.alias() == {"version": "1", "weights": {}}


@pytest.mark.parametrize(
    ("setup", "argv", "reason"),
    [
        pytest.param(
            None, _args(**{"--function": "nope"}), "function 'nope' not found", id="missing-function"
        ),
        pytest.param(None, _args(**{"--version": "9"}), "version 9 of", id="missing-version"),
        pytest.param(
            None, _args(**{"--version": "1"}), "already points at version 1", id="target-is-current"
        ),
        pytest.param(
            None, _args(**{"--version": "$LATEST"}), "not a published version", id="unpublished-target"
        ),
        pytest.param(None, _args(**{"--alias": "staging"}), "alias 'staging'", id="missing-alias"),
        pytest.param(None, [*_args(), "--alarm", "no-such-alarm"], "no-such-alarm", id="missing-alarm"),
        pytest.param("alarm-firing", [*_args(), "--alarm", ALARM], "is in ALARM", id="alarm-already-firing"),
        pytest.param("latest", _args(), "$LATEST", id="alias-at-latest"),
        pytest.param("other-shift", _args(), "without fnkit's mark", id="alias-routing-elsewhere"),
        pytest.param(None, [*_args(), "--min-invocations", "0"], "--min-invocations", id="min-invocations"),
        pytest.param(None, [*_args(), "--max-error-rate", "2"], "--max-error-rate", id="error-rate-range"),
        pytest.param(None, [*_args(), "--poll-seconds", "0"], "--poll-seconds", id="poll-seconds"),
        pytest.param(
            None, [*_args(), "--smoke-manifest", "/nonexistent/model"], "no manifest", id="missing-manifest"
        ),
    ],
)
def test_bad_input_is_exit_2_with_nothing_changed(
    stack: Stack, clock: FakeClock, run_promote: Any, setup: str | None, argv: list[str], reason: str
):
    # GIVEN the alias state the case needs
    if setup == "alarm-firing":
        stack.add_alarm(state="ALARM")
    if setup == "latest":
        stack.set_routing("$LATEST", {})
    if setup == "other-shift":
        stack.set_routing("1", {"3": 0.2})
    before = stack.alias()

    # WHEN promoting
    run = run_promote(argv)

    # THEN exit 2, the reason says why, and the alias is exactly as it was
    assert run.code == 2, run.lines
    assert reason in run.report["reason"]
    assert run.report["outcome"] == "precondition_failed"
    assert run.report.get("alias_writes", []) == []
    assert stack.alias() == before
    assert clock.sleeps == []


def test_unwritable_report_is_exit_2_before_any_traffic_moves(
    stack: Stack, clock: FakeClock, tmp_path: Any, steady_traffic: Any
):
    # GIVEN a --report path that cannot be written (its folder is a regular file), healthy traffic,
    # and a record of every alias write sent to Lambda
    (tmp_path / "not-a-folder").write_text("")
    steady_traffic({"2": (10, 0), "1": (90, 0)})
    writes: list[dict[str, Any]] = []
    stack.lam.meta.events.register(
        "provide-client-params.lambda.UpdateAlias", lambda params, **_: writes.append(params)
    )
    parser = argparse.ArgumentParser()
    promote_cli.add_arguments(parser)
    args = parser.parse_args([*_canary(), "--report", str(tmp_path / "not-a-folder" / "report.json")])
    lines: list[str] = []
    deps = Dependencies(
        lambda_client=stack.lam,
        cloudwatch=P99CloudWatch(stack.cw, HEALTHY_P99),
        clock=clock,
        sleep=clock.sleep,
        log=lines.append,
    )

    # WHEN promoting
    code = promote_cli.run(args, deps=deps)

    # THEN it is refused as a precondition (exit 2), before any alias write or wait
    assert code == 2, lines
    assert any("cannot write --report" in line for line in lines)
    assert writes == []
    assert clock.sleeps == []
    assert stack.alias() == {"version": "1", "weights": {}}
