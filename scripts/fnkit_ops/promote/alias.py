"""Lambda alias operations with Lambda's routing rules enforced here and optimistic locking on writes.

Every write passes the RevisionId read (or returned by our previous write), so a concurrent change
makes Lambda answer PreconditionFailedException and the promotion stops instead of overwriting it.
The rules are checked before each write rather than left to the service (and moto checks none of
them): at most two versions, an additional weight in [0, 1), both versions published.

A write whose answer is lost (a timeout or dropped connection, or botocore's retry of a write that
had landed, which then fails its own RevisionId check) is resolved by reading the alias back: the
alias as intended — versions, weights and description, which carries this run's id — is our write;
the alias as before is no write (sent again); anything else is someone else's (aborted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from fnkit_ops.promote.exceptions import (
    AliasConcurrentChangeError,
    AliasNotFoundError,
    FunctionNotFoundError,
    PromoteError,
    PromoteUsageError,
    RoutingRuleError,
    VersionNotFoundError,
    VersionNotPublishedError,
)
from fnkit_ops.promote.report import record_dict

LambdaClient = Any
"""A boto3 Lambda client (boto3 ships no type information)."""

_ACTIVE = "Active"
_WRITE_ATTEMPTS = 3
"""A write whose answer was lost and that did not land is sent again, at most this many times in all."""
_LOST = (BotoConnectionError, HTTPClientError)
"""Errors after which a write may or may not have landed (timeouts, dropped connections)."""


@dataclass(frozen=True)
class AliasState:
    """What an alias points at: primary version, additional routing, RevisionId and description."""

    function_version: str
    weights: Mapping[str, float] = field(default_factory=dict)
    revision_id: str = ""
    description: str = ""

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> AliasState:
        routing = response.get("RoutingConfig") or {}
        weights = {str(k): float(v) for k, v in (routing.get("AdditionalVersionWeights") or {}).items()}
        return cls(
            str(response["FunctionVersion"]),
            weights,
            str(response.get("RevisionId", "")),
            str(response.get("Description") or ""),
        )

    @property
    def routed_version(self) -> str | None:
        return next(iter(self.weights), None)

    @property
    def routed_weight(self) -> float:
        return next(iter(self.weights.values()), 0.0)

    def same_routing(self, other: AliasState) -> bool:
        """True when both point at the same versions with the same weights (RevisionId aside)."""
        if self.function_version != other.function_version or set(self.weights) != set(other.weights):
            return False
        return all(abs(self.weights[v] - other.weights[v]) < 1e-9 for v in self.weights)

    def same_as(self, other: AliasState) -> bool:
        """Same routing and same description (RevisionId aside)."""
        return self.same_routing(other) and self.description == other.description

    def describe(self) -> str:
        if not self.weights:
            return f"version {self.function_version} (100%)"
        extra = self.routed_version
        weight = self.routed_weight
        return f"version {self.function_version} ({1 - weight:.0%}) + version {extra} ({weight:.0%})"

    def to_dict(self) -> dict[str, Any]:
        return record_dict(self)


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

    def write(
        self, state: AliasState, primary: str, weights: Mapping[str, float], description: str
    ) -> AliasState:
        """Set the alias to `primary` plus `weights` and `description`, locked on `state.revision_id`;
        Lambda's rules checked first; a lost answer resolved by reading the alias back."""
        validate_routing(primary, weights)
        if not state.revision_id:
            raise PromoteUsageError(f"alias {self.alias} has no RevisionId to lock the write with")
        intended = AliasState(primary, dict(weights), "", description)
        lost: Exception | None = None
        for _ in range(_WRITE_ATTEMPTS):
            try:
                response = self._client.update_alias(
                    FunctionName=self.function,
                    Name=self.alias,
                    FunctionVersion=primary,
                    RoutingConfig={"AdditionalVersionWeights": dict(weights)},
                    Description=description,
                    RevisionId=state.revision_id,
                )
            except self._client.exceptions.PreconditionFailedException as exc:
                current = self.get()
                if current.same_as(intended):
                    return current  # our write had landed; this was a retry of it
                raise AliasConcurrentChangeError(
                    f"alias {self.function}:{self.alias} changed since revision {state.revision_id} "
                    f"(now {current.describe()}); promotion aborted without overwriting"
                ) from exc
            except _LOST as exc:
                current = self.get()
                if current.same_as(intended):
                    return current
                if current.revision_id != state.revision_id or not current.same_as(state):
                    raise AliasConcurrentChangeError(
                        f"alias {self.function}:{self.alias} changed while our write's answer was lost "
                        f"(now {current.describe()}); promotion aborted without overwriting"
                    ) from exc
                lost = exc  # the alias is as before: the write did not land, send it again
                continue
            return AliasState.from_response(response)
        raise PromoteError(
            f"alias {self.function}:{self.alias}: the answer to our write was lost {_WRITE_ATTEMPTS} times "
            "and the alias is unchanged"
        ) from lost
