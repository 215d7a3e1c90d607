"""Read-only checks before a promotion changes anything, and the plan they produce.

Every failure here is a PromoteUsageError (exit 2, nothing changed). The alias's current shape and
fnkit's mark in its description (marks.py) decide the mode:
- no routing, at another version → a fresh promotion from that version;
- no routing, at the target → TargetIsCurrentError;
- a weight on the target, marked as fnkit's shift to it → an interrupted promotion:
  --on-resume resume | rollback, else AliasInterruptedError;
- a weight on another version, marked as fnkit's shift to it → a stale shift (a killed run): it is
  rolled back first, then the promotion proceeds from the primary version;
- a weight without fnkit's mark → AliasBusyError: someone else's shift is left alone.
The target's CodeSha256 listed as rejected in the mark → RejectedArtifactError unless --retry-rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from fnkit_runtime.constants import DEFAULT_FUNCTION_VERSION
from fnkit_runtime.manifest import GoldenSample

from fnkit_ops.promote.alarms import judge_alarms, read_alarms
from fnkit_ops.promote.alias import AliasClient, AliasState, check_function, check_published
from fnkit_ops.promote.config import Dependencies, PromotionConfig, ResumePolicy
from fnkit_ops.promote.exceptions import (
    AliasBusyError,
    AliasInterruptedError,
    PreflightGateError,
    RejectedArtifactError,
    TargetIsCurrentError,
    VersionNotPublishedError,
)
from fnkit_ops.promote.gates import Verdict
from fnkit_ops.promote.marks import AliasMark, Shift, code_digest, parse_mark, short_sha
from fnkit_ops.promote.smoke import load_golden
from fnkit_ops.promote.strategy import Step, remaining_steps


@dataclass(frozen=True)
class Plan:
    old: str
    target: str
    initial: AliasState
    steps: tuple[Step, ...]
    mark: AliasMark = field(default_factory=AliasMark)
    """fnkit's mark as found (empty when the description was not fnkit's)."""
    target_sha256: str = ""
    resumed_from: float | None = None
    """The target's weight found on the alias when resuming an interrupted promotion."""
    rollback_only: bool = False
    """--on-resume rollback on an interrupted promotion: restore the old version and stop."""
    stale: Shift | None = None
    """fnkit's shift to another version, left by a killed run: rolled back before this promotion."""
    golden: tuple[GoldenSample, ...] = ()


def fnkit_shift(state: AliasState) -> Shift | None:
    """fnkit's shift in flight on the alias: its mark names the version the alias routes a weight to."""
    mark = parse_mark(state.description)
    if not state.weights or mark is None or mark.shift is None:
        return None
    return mark.shift if mark.shift.version == state.routed_version else None


def check_alias_shape(state: AliasState) -> Shift | None:
    """Refuse routing fnkit did not start, before anything is published or written."""
    if len(state.weights) > 1:
        raise AliasBusyError(f"alias routes to {1 + len(state.weights)} versions: {state.describe()}")
    shift = fnkit_shift(state)
    if state.weights and shift is None:
        raise AliasBusyError(
            f"alias is routing ({state.describe()}) without fnkit's mark in its description "
            f"({state.description!r}): a shift fnkit did not start, left alone"
        )
    return shift


def classify(state: AliasState, shift: Shift | None, target: str, config: PromotionConfig) -> Plan:
    mark = parse_mark(state.description) or AliasMark()
    if shift is None:
        if state.function_version == target:
            raise TargetIsCurrentError(f"alias {config.alias} already points at version {target}")
        return Plan(state.function_version, target, state, config.strategy.steps, mark)
    if shift.version != target:
        return Plan(state.function_version, target, state, config.strategy.steps, mark, stale=shift)
    weight = state.routed_weight
    if config.on_resume is None:
        raise AliasInterruptedError(
            f"alias {config.alias} is mid-promotion to version {target} ({state.describe()}, run "
            f"{shift.run_id}); rerun with --on-resume resume or --on-resume rollback"
        )
    if config.on_resume is ResumePolicy.ROLLBACK:
        return Plan(state.function_version, target, state, (), mark, resumed_from=weight, rollback_only=True)
    steps = remaining_steps(config.strategy, weight)
    return Plan(state.function_version, target, state, steps, mark, resumed_from=weight)


def check_not_rejected(plan: Plan, config: PromotionConfig) -> None:
    if plan.rollback_only or not plan.mark.is_rejected(plan.target_sha256) or config.retry_rejected:
        return
    raise RejectedArtifactError(
        f"version {plan.target}'s image (CodeSha256 {short_sha(plan.target_sha256)}…) was rolled back "
        f"by an earlier promotion (alias {config.alias}'s description records it); nothing changed. "
        "Give --retry-rejected to canary it again"
    )


def preflight(config: PromotionConfig, deps: Dependencies, publish: Callable[[], str] | None = None) -> Plan:
    """Check function, alias, alarms, manifest and versions; `publish` (if given) makes the target."""
    check_function(deps.lambda_client, config.function)
    alias = AliasClient(deps.lambda_client, config.function, config.alias)
    state = alias.get()
    shift = check_alias_shape(state)
    if state.function_version == DEFAULT_FUNCTION_VERSION:
        raise VersionNotPublishedError(f"alias {config.alias} points at $LATEST, not a published version")
    states = read_alarms(deps.cloudwatch, config.gates.alarms)
    golden = tuple(load_golden(config.smoke_manifest)) if config.smoke_manifest else ()
    resuming = shift is not None and config.version is not None and shift.version == config.version
    if not resuming:
        # A fresh promotion (a stale shift is rolled back first) must not start while a gate already
        # fails: nothing has moved yet. Without steps there is no interval to wait in, so
        # INSUFFICIENT_DATA resolves right away.
        verdict = judge_alarms(states, config.gates.insufficient_data, final=not config.strategy.steps)
        if verdict.verdict is Verdict.FAIL:
            raise PreflightGateError("; ".join(verdict.reasons) + " (before any traffic moved)")
    check_published(deps.lambda_client, config.function, state.function_version)
    if publish is None and config.version is None:
        # A dry run of --publish-image: the target does not exist yet, so there is nothing to check.
        mark = parse_mark(state.description) or AliasMark()
        return Plan(state.function_version, "", state, config.strategy.steps, mark, golden=golden)
    target = publish() if publish is not None else str(config.version)
    target_config = check_published(deps.lambda_client, config.function, target)
    plan = replace(
        classify(state, shift, target, config),
        golden=golden,
        target_sha256=code_digest(str(target_config.get("CodeSha256", ""))),
    )
    check_not_rejected(plan, config)
    return plan
