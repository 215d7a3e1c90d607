"""Read-only checks before a promotion changes anything, and the plan they produce.

Every failure here is a PromoteUsageError (exit 2, nothing changed). The alias's current shape decides
the mode:
- no routing, at another version → a fresh promotion from that version;
- no routing, at the target → TargetIsCurrentError;
- routing a weight to the target → an interrupted promotion: --on-resume resume | rollback, else error;
- any other routing → AliasBusyError (someone else's shift is in flight).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from fnkit_runtime.manifest import GoldenSample

from fnkit_ops.promote.alias import AliasClient, AliasState, check_function, check_published
from fnkit_ops.promote.config import Dependencies, PromotionConfig, ResumePolicy
from fnkit_ops.promote.exceptions import (
    AliasBusyError,
    AliasInterruptedError,
    PreflightGateError,
    TargetIsCurrentError,
    VersionNotPublishedError,
)
from fnkit_ops.promote.gates import Verdict, judge_alarms, read_alarms
from fnkit_ops.promote.smoke import load_golden
from fnkit_ops.promote.strategy import Step, remaining_steps


@dataclass(frozen=True)
class Plan:
    old: str
    target: str
    initial: AliasState
    steps: tuple[Step, ...]
    resumed_from: float | None = None
    """The target's weight found on the alias when resuming an interrupted promotion."""
    rollback_only: bool = False
    """--on-resume rollback on an interrupted promotion: restore the old version and stop."""
    golden: tuple[GoldenSample, ...] = ()


def check_alias_shape(state: AliasState, publishing: bool) -> None:
    """Refuse shapes this promotion did not create before anything is published or written."""
    if len(state.weights) > 1:
        raise AliasBusyError(f"alias routes to {1 + len(state.weights)} versions: {state.describe()}")
    if state.weights and publishing:
        raise AliasBusyError(
            f"alias is mid-shift ({state.describe()}); finish it first with --version "
            f"{state.routed_version} --on-resume resume|rollback"
        )


def classify(state: AliasState, target: str, config: PromotionConfig) -> Plan:
    if not state.weights:
        if state.function_version == target:
            raise TargetIsCurrentError(f"alias {config.alias} already points at version {target}")
        return Plan(state.function_version, target, state, config.strategy.steps)
    extra, weight = state.routed_version, state.routed_weight
    if extra != target or state.function_version == target:
        raise AliasBusyError(
            f"alias {config.alias} is routing ({state.describe()}), not a shift to version {target}; "
            "another promotion may be in progress"
        )
    if config.on_resume is None:
        raise AliasInterruptedError(
            f"alias {config.alias} is mid-promotion to version {target} ({state.describe()}); "
            "rerun with --on-resume resume or --on-resume rollback"
        )
    if config.on_resume is ResumePolicy.ROLLBACK:
        return Plan(state.function_version, target, state, (), resumed_from=weight, rollback_only=True)
    steps = remaining_steps(config.strategy, weight)
    return Plan(state.function_version, target, state, steps, resumed_from=weight)


def preflight(config: PromotionConfig, deps: Dependencies, publish: Callable[[], str] | None = None) -> Plan:
    """Check function, alias, alarms, manifest and versions; `publish` (if given) makes the target."""
    check_function(deps.lambda_client, config.function)
    alias = AliasClient(deps.lambda_client, config.function, config.alias)
    state = alias.get()
    check_alias_shape(state, publishing=config.publish_image is not None)
    if state.function_version == "$LATEST":
        raise VersionNotPublishedError(f"alias {config.alias} points at $LATEST, not a published version")
    states = read_alarms(deps.cloudwatch, config.gates.alarms)
    golden = tuple(load_golden(config.smoke_manifest)) if config.smoke_manifest else ()
    if not state.weights:
        # A fresh promotion must not start while a gate already fails: nothing has moved yet.
        # Without steps there is no interval to wait in, so INSUFFICIENT_DATA resolves right away.
        verdict = judge_alarms(states, config.gates.insufficient_data, final=not config.strategy.steps)
        if verdict.verdict is Verdict.FAIL:
            raise PreflightGateError("; ".join(verdict.reasons) + " (before any traffic moved)")
    check_published(deps.lambda_client, config.function, state.function_version)
    if publish is None and config.version is None:
        # A dry run of --publish-image: the target does not exist yet, so there is nothing to check.
        return Plan(state.function_version, "", state, config.strategy.steps, golden=golden)
    target = publish() if publish is not None else str(config.version)
    check_published(deps.lambda_client, config.function, target)
    return replace(classify(state, target, config), golden=golden)
