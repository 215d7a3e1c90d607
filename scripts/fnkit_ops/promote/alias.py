"""Lambda alias operations with Lambda's routing rules enforced here and optimistic locking on writes.

Every write passes the RevisionId read (or returned by our previous write), so a concurrent change
makes Lambda answer PreconditionFailedException and the promotion stops instead of overwriting it.
The rules are checked before each write rather than left to the service (and moto checks none of
them): at most two versions, an additional weight in [0, 1), both versions published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fnkit_ops.promote.exceptions import (
    AliasConcurrentChangeError,
    AliasNotFoundError,
    FunctionNotFoundError,
    PromoteUsageError,
    RoutingRuleError,
    VersionNotFoundError,
    VersionNotPublishedError,
)

LambdaClient = Any
"""A boto3 Lambda client (boto3 ships no type information)."""

_ACTIVE = "Active"


@dataclass(frozen=True)
class AliasState:
    """What an alias points at: its primary version, the additional routing, and the RevisionId."""

    function_version: str
    weights: Mapping[str, float] = field(default_factory=dict)
    revision_id: str = ""

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> AliasState:
        routing = response.get("RoutingConfig") or {}
        weights = {str(k): float(v) for k, v in (routing.get("AdditionalVersionWeights") or {}).items()}
        return cls(str(response["FunctionVersion"]), weights, str(response.get("RevisionId", "")))

    @property
    def routed_version(self) -> str | None:
        return next(iter(self.weights), None)

    @property
    def routed_weight(self) -> float:
        return next(iter(self.weights.values()), 0.0)

    def same_routing(self, other: AliasState) -> bool:
        """True when both point at the same versions with the same weights (RevisionId aside)."""
        return self.function_version == other.function_version and dict(self.weights) == dict(other.weights)

    def describe(self) -> str:
        if not self.weights:
            return f"version {self.function_version} (100%)"
        extra = self.routed_version
        weight = self.routed_weight
        return f"version {self.function_version} ({1 - weight:.0%}) + version {extra} ({weight:.0%})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "function_version": self.function_version,
            "weights": dict(self.weights),
            "revision_id": self.revision_id,
        }


def is_published_number(version: str) -> bool:
    return version.isdigit() and int(version) > 0


def validate_routing(primary: str, weights: Mapping[str, float]) -> None:
    """Lambda's alias rules, checked before a write: two versions at most, weight in [0, 1), numbered."""
    if not is_published_number(primary):
        raise RoutingRuleError(f"alias primary version {primary!r} is not a published version number")
    if len(weights) > 1:
        raise RoutingRuleError(f"an alias routes to at most two versions; got {1 + len(weights)}")
    for version, weight in weights.items():
        if version == primary:
            raise RoutingRuleError(f"additional version {version} equals the primary version")
        if not is_published_number(version):
            raise RoutingRuleError(f"additional version {version!r} is not a published version number")
        if not 0.0 <= weight < 1.0:
            raise RoutingRuleError(f"weight {weight} for version {version} is outside [0, 1)")


def check_function(client: LambdaClient, function: str) -> dict[str, Any]:
    """Return the function's configuration; FunctionNotFoundError when it does not exist."""
    try:
        config: dict[str, Any] = client.get_function(FunctionName=function)["Configuration"]
    except client.exceptions.ResourceNotFoundException as exc:
        raise FunctionNotFoundError(f"function {function!r} not found") from exc
    return config


def check_published(client: LambdaClient, function: str, version: str) -> dict[str, Any]:
    """Return a published version's configuration; raise when it is missing, $LATEST or not Active."""
    if not is_published_number(version):
        raise VersionNotPublishedError(
            f"version {version!r} of {function} is not a published version (a positive number)"
        )
    try:
        config: dict[str, Any] = client.get_function(FunctionName=function, Qualifier=version)[
            "Configuration"
        ]
    except client.exceptions.ResourceNotFoundException as exc:
        raise VersionNotFoundError(f"version {version} of {function} not found") from exc
    if str(config.get("Version")) != version:
        raise VersionNotFoundError(f"version {version} of {function} not found (got {config.get('Version')})")
    state = config.get("State", _ACTIVE)
    if state != _ACTIVE:
        raise VersionNotPublishedError(f"version {version} of {function} is {state}, not {_ACTIVE}")
    return config


class AliasClient:
    """Reads and writes one alias; every write is rule-checked and carries the last RevisionId."""

    def __init__(self, client: LambdaClient, function: str, alias: str) -> None:
        self._client = client
        self.function = function
        self.alias = alias

    def get(self) -> AliasState:
        try:
            response = self._client.get_alias(FunctionName=self.function, Name=self.alias)
        except self._client.exceptions.ResourceNotFoundException as exc:
            raise AliasNotFoundError(f"alias {self.alias!r} of function {self.function!r} not found") from exc
        return AliasState.from_response(response)

    def route(self, state: AliasState, primary: str, extra: str, weight: float) -> AliasState:
        """Send `weight` of the traffic to `extra`, the rest to `primary`."""
        return self.write(state, primary, {extra: weight})

    def point(self, state: AliasState, version: str) -> AliasState:
        """Send all traffic to `version`, no routing."""
        return self.write(state, version, {})

    def write(self, state: AliasState, primary: str, weights: Mapping[str, float]) -> AliasState:
        """Set the alias to `primary` plus `weights`, locked on `state.revision_id`; rules checked first."""
        validate_routing(primary, weights)
        if not state.revision_id:
            raise PromoteUsageError(f"alias {self.alias} has no RevisionId to lock the write with")
        try:
            response = self._client.update_alias(
                FunctionName=self.function,
                Name=self.alias,
                FunctionVersion=primary,
                RoutingConfig={"AdditionalVersionWeights": dict(weights)},
                RevisionId=state.revision_id,
            )
        except self._client.exceptions.PreconditionFailedException as exc:
            raise AliasConcurrentChangeError(
                f"alias {self.function}:{self.alias} changed since revision {state.revision_id} "
                "(someone else wrote it); promotion aborted without overwriting"
            ) from exc
        return AliasState.from_response(response)
