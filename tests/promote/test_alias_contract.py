"""The alias contracts moto cannot test, with botocore's Stubber: moto never changes an alias's
RevisionId (and accepts a stale one) and does not validate routing weights. Here the exact UpdateAlias
requests are the contract: every write carries the RevisionId returned by the previous one and
fnkit's mark (run, target, CodeSha256), a PreconditionFailedException from someone else's change stops
the promotion with no further write, a write whose answer was lost is resolved by reading the alias
back, and requests breaking Lambda's routing rules are refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from fnkit_ops.promote.alias import AliasClient, AliasState, validate_routing
from fnkit_ops.promote.config import Dependencies, PromotionConfig
from fnkit_ops.promote.exceptions import RoutingRuleError
from fnkit_ops.promote.gates import GateConfig
from fnkit_ops.promote.metrics import MetricsReading, VersionMetrics
from fnkit_ops.promote.promoter import promote
from fnkit_ops.promote.strategy import parse_strategy

from .conftest import FakeClock

FN = "fnkit-digits"
ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FN}"
RUN = "run-1"
SHA = {"1": "1" * 64, "2": "2" * 64}
SHIFT = f"fnkit:1 shift={RUN}/2/{SHA['2']}"
"""The description of every weighted shift of this run to version 2."""


class HealthyMetrics:
    """A MetricsReader double: plenty of clean traffic on every version."""

    def read(
        self, versions: Sequence[str], start: datetime, end: datetime, with_latency: bool
    ) -> MetricsReading:
        return MetricsReading(
            {v: VersionMetrics(v, 100.0, 0.0, 50.0 if with_latency else None) for v in versions}
        )


class StubbedLambda:
    """A real botocore Lambda client under Stubber, recording every operation it is asked to make."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        self.stubber = Stubber(self.client)
        self.operations: list[str] = []
        self.client.meta.events.register("provide-client-params.lambda.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    def function(self) -> None:
        self.stubber.add_response(
            "get_function",
            {"Configuration": {"FunctionName": FN, "Version": "$LATEST"}},
            {"FunctionName": FN},
        )

    def version(self, version: str) -> None:
        self.stubber.add_response(
            "get_function",
            {
                "Configuration": {
                    "FunctionName": FN,
                    "Version": version,
                    "State": "Active",
                    "CodeSha256": SHA[version],
                }
            },
            {"FunctionName": FN, "Qualifier": version},
        )

    def alias(
        self, version: str, revision: str, weights: dict[str, float] | None = None, description: str = ""
    ) -> None:
        self.stubber.add_response(
            "get_alias", _alias(version, revision, weights, description), {"FunctionName": FN, "Name": "live"}
        )

    def update(
        self, version: str, weights: dict[str, float], revision: str, new_revision: str, description: str = ""
    ) -> None:
        self.stubber.add_response(
            "update_alias",
            _alias(version, new_revision, weights, description),
            _update(version, weights, revision, description),
        )

    def update_refused(
        self, version: str, weights: dict[str, float], revision: str, description: str = ""
    ) -> None:
        self.stubber.add_client_error(
            "update_alias",
            service_error_code="PreconditionFailedException",
            service_message="The RevisionId provided does not match the latest RevisionId for the alias.",
            http_status_code=412,
            expected_params=_update(version, weights, revision, description),
        )


def _update(version: str, weights: dict[str, float], revision: str, description: str) -> dict[str, Any]:
    return {
        "FunctionName": FN,
        "Name": "live",
        "FunctionVersion": version,
        "RoutingConfig": {"AdditionalVersionWeights": weights},
        "Description": description,
        "RevisionId": revision,
    }


def _alias(
    version: str, revision: str, weights: dict[str, float] | None, description: str = ""
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "AliasArn": f"{ARN}:live",
        "Name": "live",
        "FunctionVersion": version,
        "RevisionId": revision,
        "Description": description,
    }
    if weights:
        response["RoutingConfig"] = {"AdditionalVersionWeights": weights}
    return response


@pytest.fixture
def lam() -> Iterator[StubbedLambda]:
    stubbed = StubbedLambda()
    with stubbed.stubber:
        yield stubbed


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    """A stubbed CloudWatch client with nothing queued: any call would fail the test."""
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client
        stubber.assert_no_pending_responses()


def _run(lam: Any, cloudwatch: Any, strategy: str, metrics: Any = None) -> Any:
    clock = FakeClock()
    config = PromotionConfig(
        function=FN,
        version="2",
        strategy=parse_strategy(strategy),
        gates=GateConfig(),
        settle_seconds=0,
        run_id=RUN,
    )
    deps = Dependencies(
        lambda_client=lam.client if isinstance(lam, StubbedLambda) else lam,
        cloudwatch=cloudwatch,
        clock=clock,
        sleep=clock.sleep,
        log=lambda _line: None,
        metrics=metrics or HealthyMetrics(),
    )
    return promote(config, deps)


def _preflight(lam: StubbedLambda) -> None:
    lam.function()
    lam.alias("1", "rev-1")
    lam.version("1")
    lam.version("2")


def _canary_shift_lands(lam: StubbedLambda) -> None:
    """Preflight, then the first canary write: 10% to version 2, answered with revision rev-2."""
    _preflight(lam)
    lam.update("1", {"2": 0.1}, revision="rev-1", new_revision="rev-2", description=SHIFT)


def test_every_write_carries_the_revision_returned_by_the_previous_one(lam: StubbedLambda, cloudwatch: Any):
    # GIVEN Lambda answering each write with a new RevisionId, as the real service does
    _canary_shift_lands(lam)
    lam.alias("1", "rev-2", {"2": 0.1}, SHIFT)  # the step's check that nobody else moved the alias
    lam.update("2", {}, revision="rev-2", new_revision="rev-3")

    # WHEN promoting with a one-minute canary
    result = _run(lam, cloudwatch, "canary:10:1")

    # THEN both UpdateAlias requests matched exactly (Stubber checks the parameters), in order
    assert result.exit_code == 0, result.reason
    lam.stubber.assert_no_pending_responses()
    assert lam.operations.count("UpdateAlias") == 2
    assert result.report.final_alias["revision_id"] == "rev-3"


def test_revision_mismatch_on_the_first_write_aborts_without_another_write(
    lam: StubbedLambda, cloudwatch: Any
):
    # GIVEN someone changed the alias between our read and our write (read back: theirs, not ours)
    _preflight(lam)
    lam.update_refused("1", {"2": 0.1}, revision="rev-1", description=SHIFT)
    lam.alias("3", "rev-7")

    # WHEN promoting
    result = _run(lam, cloudwatch, "canary:10:1")

    # THEN exit 3 after reading the alias back, and no further write (no "rollback" over their change)
    assert result.exit_code == 3
    assert result.outcome == "aborted"
    assert "changed since revision rev-1" in result.reason and "now version 3" in result.reason
    assert lam.operations[-2:] == ["UpdateAlias", "GetAlias"]
    assert lam.operations.count("UpdateAlias") == 1


def test_revision_mismatch_on_the_final_write_aborts_without_rollback(lam: StubbedLambda, cloudwatch: Any):
    # GIVEN the canary passes, but the alias changes before the final switch
    _canary_shift_lands(lam)
    lam.alias("1", "rev-2", {"2": 0.1}, SHIFT)
    lam.update_refused("2", {}, revision="rev-2")
    lam.alias("1", "rev-8")

    # WHEN promoting
    result = _run(lam, cloudwatch, "canary:10:1")

    # THEN exit 3; the refused write was the last write
    assert result.exit_code == 3
    assert lam.operations[-2:] == ["UpdateAlias", "GetAlias"]
    assert lam.operations.count("UpdateAlias") == 2


def test_revision_moved_during_the_bake_is_caught_before_the_next_write(lam: StubbedLambda, cloudwatch: Any):
    # GIVEN the alias shows a new RevisionId (same routing) one poll into the bake
    _canary_shift_lands(lam)
    lam.alias("1", "rev-9", {"2": 0.1}, SHIFT)

    # WHEN promoting
    result = _run(lam, cloudwatch, "canary:10:1")

    # THEN aborted on the read: only the first write happened
    assert result.exit_code == 3
    assert "revision rev-9" in result.reason
    assert lam.operations.count("UpdateAlias") == 1


def test_rollback_also_carries_the_revision(lam: StubbedLambda, cloudwatch: Any):
    # GIVEN the new version fails its error-rate gate
    class Failing(HealthyMetrics):
        def read(self, versions: Sequence[str], start: datetime, end: datetime, with_latency: bool) -> Any:
            out = super().read(versions, start, end, with_latency)
            out.numbers["2"] = VersionMetrics("2", 100.0, 50.0, 50.0)
            return out

    _canary_shift_lands(lam)
    lam.alias("1", "rev-2", {"2": 0.1}, SHIFT)  # read back before rolling back: as we left it
    rejected = f"fnkit:1 rejected={SHA['2'][:16]}"
    lam.update("1", {}, revision="rev-2", new_revision="rev-3", description=rejected)

    # WHEN promoting
    result = _run(lam, cloudwatch, "canary:10:1", metrics=Failing())

    # THEN the rollback write carried rev-2, restored version 1 with no routing and recorded version
    # 2's image as rejected, in the same write
    assert result.exit_code == 1
    lam.stubber.assert_no_pending_responses()
    assert result.report.rejection == {"sha256": SHA["2"], "recorded": True}


@pytest.mark.parametrize(
    ("primary", "weights", "message"),
    [
        pytest.param("1", {"2": 1.0}, "outside [0, 1)", id="weight-one"),
        pytest.param("1", {"2": 1.5}, "outside [0, 1)", id="weight-over-one"),
        pytest.param("1", {"2": -0.1}, "outside [0, 1)", id="negative-weight"),
        pytest.param("1", {"2": 0.1, "3": 0.1}, "at most two versions", id="three-versions"),
        pytest.param("1", {"1": 0.1}, "equals the primary", id="same-version"),
        pytest.param("$LATEST", {"2": 0.1}, "not a published version", id="latest-primary"),
        pytest.param("1", {"$LATEST": 0.1}, "not a published version", id="latest-extra"),
    ],
)
def test_routing_rules_refused_before_any_request(
    lam: StubbedLambda, primary: str, weights: dict[str, float], message: str
):
    # GIVEN an alias client whose Stubber has nothing queued (any request would raise)
    alias = AliasClient(lam.client, FN, "live")
    state = AliasState("1", {}, "rev-1")

    # WHEN writing a routing Lambda would reject
    with pytest.raises(RoutingRuleError, match=message.replace("[", r"\[").replace(")", r"\)")):
        alias.write(state, primary, weights, "")

    # THEN nothing was sent
    assert lam.operations == []


def test_valid_routing_passes_the_rules():
    # GIVEN/WHEN/THEN the shapes the promoter writes are accepted
    validate_routing("1", {"2": 0.1})
    validate_routing("1", {"2": 0.0})
    validate_routing("2", {})


# --- a write whose answer was lost ---------------------------------------------------------------


def test_a_retried_write_that_had_landed_is_ours_not_someone_elses(lam: StubbedLambda, cloudwatch: Any):
    # GIVEN the first write landed but its answer was lost, and botocore's retry of it was refused
    # (the RevisionId had moved: by our own write), and the alias reads back exactly as we asked
    _preflight(lam)
    lam.update_refused("1", {"2": 0.1}, revision="rev-1", description=SHIFT)
    lam.alias("1", "rev-2", {"2": 0.1}, SHIFT)
    lam.alias("1", "rev-2", {"2": 0.1}, SHIFT)  # the step's check
    lam.update("2", {}, revision="rev-2", new_revision="rev-3")

    # WHEN promoting
    result = _run(lam, cloudwatch, "canary:10:1")

    # THEN the promotion went on from the revision read back (rev-2), instead of aborting (exit 3)
    assert result.exit_code == 0, result.reason
    lam.stubber.assert_no_pending_responses()


class LosingLambda:
    """The stubbed client, except that the first `update_alias` answer is lost: after the call
    (`landed=True`: the write happened) or before it (`landed=False`), it raises a ReadTimeoutError."""

    def __init__(self, stubbed: StubbedLambda, landed: bool) -> None:
        self.client = stubbed.client
        self.landed = landed
        self.lost = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def update_alias(self, **request: Any) -> Any:
        if not self.lost:
            self.lost = True
            if self.landed:
                self.client.update_alias(**request)
            raise ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com")
        return self.client.update_alias(**request)


@pytest.mark.parametrize("landed", [True, False], ids=["landed", "not-landed"])
def test_a_timed_out_write_is_resolved_by_reading_the_alias(
    lam: StubbedLambda, cloudwatch: Any, landed: bool
):
    # GIVEN the first write's answer is lost to a read timeout
    _preflight(lam)
    if landed:
        # the write happened: the alias reads back as we asked, with its new revision
        lam.update("1", {"2": 0.1}, revision="rev-1", new_revision="rev-2", description=SHIFT)
        lam.alias("1", "rev-2", {"2": 0.1}, SHIFT)
    else:
        # it did not: the alias reads back as before, and the same write is sent again
        lam.alias("1", "rev-1")
        lam.update("1", {"2": 0.1}, revision="rev-1", new_revision="rev-2", description=SHIFT)
    lam.alias("1", "rev-2", {"2": 0.1}, SHIFT)
    lam.update("2", {}, revision="rev-2", new_revision="rev-3")
    losing = LosingLambda(lam, landed)

    # WHEN promoting
    result = _run(losing, cloudwatch, "canary:10:1")

    # THEN the alias read back decided (the Stubber's queue is the order of requests: landed → go on
    # from rev-2; not landed → the same write sent again), and each state was written once
    assert result.exit_code == 0, result.reason
    assert losing.lost
    lam.stubber.assert_no_pending_responses()
    assert lam.operations.count("UpdateAlias") == 2
    assert result.report.final_alias["revision_id"] == "rev-3"
