"""The alias contracts moto cannot test, with botocore's Stubber: moto never changes an alias's
RevisionId (and accepts a stale one) and does not validate routing weights. Here the exact UpdateAlias
requests are the contract: every write carries the RevisionId returned by the previous one, a
PreconditionFailedException stops the promotion with no further write, and requests breaking Lambda's
routing rules are refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from fnkit_ops.promote.alias import AliasClient, AliasState, validate_routing
from fnkit_ops.promote.config import Dependencies, PromotionConfig
from fnkit_ops.promote.exceptions import RoutingRuleError
from fnkit_ops.promote.gates import GateConfig
from fnkit_ops.promote.metrics import VersionMetrics
from fnkit_ops.promote.promoter import promote
from fnkit_ops.promote.strategy import parse_strategy

from .conftest import FakeClock

FN = "fnkit-digits"
ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FN}"


class HealthyMetrics:
    """A MetricsReader double: plenty of clean traffic on every version."""

    def read(
        self, versions: Sequence[str], start: datetime, end: datetime, with_latency: bool
    ) -> dict[str, VersionMetrics]:
        return {v: VersionMetrics(v, 100.0, 0.0, 50.0 if with_latency else None) for v in versions}


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
            {"Configuration": {"FunctionName": FN, "Version": version, "State": "Active"}},
            {"FunctionName": FN, "Qualifier": version},
        )

    def alias(self, version: str, revision: str, weights: dict[str, float] | None = None) -> None:
        self.stubber.add_response(
            "get_alias", _alias(version, revision, weights), {"FunctionName": FN, "Name": "live"}
        )

    def update(self, version: str, weights: dict[str, float], revision: str, new_revision: str) -> None:
        self.stubber.add_response(
            "update_alias",
            _alias(version, new_revision, weights),
            {
                "FunctionName": FN,
                "Name": "live",
                "FunctionVersion": version,
                "RoutingConfig": {"AdditionalVersionWeights": weights},
                "RevisionId": revision,
            },
        )

    def update_refused(self, version: str, weights: dict[str, float], revision: str) -> None:
        self.stubber.add_client_error(
            "update_alias",
            service_error_code="PreconditionFailedException",
            service_message="The RevisionId provided does not match the latest RevisionId for the alias.",
            http_status_code=412,
            expected_params={
                "FunctionName": FN,
                "Name": "live",
                "FunctionVersion": version,
                "RoutingConfig": {"AdditionalVersionWeights": weights},
                "RevisionId": revision,
            },
        )


def _alias(version: str, revision: str, weights: dict[str, float] | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "AliasArn": f"{ARN}:live",
        "Name": "live",
        "FunctionVersion": version,
        "RevisionId": revision,
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


def _run(lam: StubbedLambda, cloudwatch: Any, strategy: str, metrics: Any = None) -> Any:
    clock = FakeClock()
    config = PromotionConfig(function=FN, version="2", strategy=parse_strategy(strategy), gates=GateConfig())
    deps = Dependencies(
        lambda_client=lam.client,
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


def test_every_write_carries_the_revision_returned_by_the_previous_one(lam: StubbedLambda, cloudwatch: Any):
    # GIVEN Lambda answering each write with a new RevisionId, as the real service does
    _preflight(lam)
    lam.update("1", {"2": 0.1}, revision="rev-1", new_revision="rev-2")
    lam.alias("1", "rev-2", {"2": 0.1})  # the bake's check that nobody else moved the alias
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
    # GIVEN someone changed the alias between our read and our write
    _preflight(lam)
    lam.update_refused("1", {"2": 0.1}, revision="rev-1")

    # WHEN promoting
    result = _run(lam, cloudwatch, "canary:10:1")

    # THEN exit 3 and no further request at all (no "rollback" over their change)
    assert result.exit_code == 3
    assert result.outcome == "aborted"
    assert "changed since revision rev-1" in result.reason
    assert lam.operations[-1] == "UpdateAlias"
    assert lam.operations.count("UpdateAlias") == 1


def test_revision_mismatch_on_the_final_write_aborts_without_rollback(lam: StubbedLambda, cloudwatch: Any):
    # GIVEN the canary passes, but the alias changes before the final switch
    _preflight(lam)
    lam.update("1", {"2": 0.1}, revision="rev-1", new_revision="rev-2")
    lam.alias("1", "rev-2", {"2": 0.1})
    lam.update_refused("2", {}, revision="rev-2")

    # WHEN promoting
    result = _run(lam, cloudwatch, "canary:10:1")

    # THEN exit 3; the refused write was the last request
    assert result.exit_code == 3
    assert lam.operations[-1] == "UpdateAlias"
    assert lam.operations.count("UpdateAlias") == 2


def test_revision_moved_during_the_bake_is_caught_before_the_next_write(lam: StubbedLambda, cloudwatch: Any):
    # GIVEN the alias shows a new RevisionId (same routing) one poll into the bake
    _preflight(lam)
    lam.update("1", {"2": 0.1}, revision="rev-1", new_revision="rev-2")
    lam.alias("1", "rev-9", {"2": 0.1})

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
            out["2"] = VersionMetrics("2", 100.0, 50.0, 50.0)
            return out

    _preflight(lam)
    lam.update("1", {"2": 0.1}, revision="rev-1", new_revision="rev-2")
    lam.update("1", {}, revision="rev-2", new_revision="rev-3")

    # WHEN promoting
    result = _run(lam, cloudwatch, "canary:10:1", metrics=Failing())

    # THEN the rollback write carried rev-2 and restored version 1 with no routing
    assert result.exit_code == 1
    lam.stubber.assert_no_pending_responses()


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
        alias.write(state, primary, weights)

    # THEN nothing was sent
    assert lam.operations == []


def test_valid_routing_passes_the_rules():
    # GIVEN/WHEN/THEN the shapes the promoter writes are accepted
    validate_routing("1", {"2": 0.1})
    validate_routing("1", {"2": 0.0})
    validate_routing("2", {})
