"""The promotion state machine.

    preflight (read-only; any failure → exit 2, nothing changed)
    → [--publish-image: update $LATEST, wait, publish version N]
    → [--smoke-manifest: invoke version N directly with the golden requests]
    → for each step: set the target's weight (RevisionId-locked), then bake for the step's minutes,
      polling the gates every --poll-seconds and checking nobody else moved the alias
    → final: alias at version N, no routing (exit 0).
Any failed gate → alias back at the old version, no routing (exit 1). A RevisionId mismatch or an
alias moved by someone else → stop without another write (exit 3). Time only comes from the injected
clock and sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fnkit_runtime.exceptions import ManifestError

from fnkit_ops.promote.alias import AliasClient, AliasState
from fnkit_ops.promote.config import Dependencies, PromotionConfig
from fnkit_ops.promote.constants import EXIT_ABORTED, EXIT_PRECONDITION, EXIT_PROMOTED, EXIT_ROLLED_BACK
from fnkit_ops.promote.exceptions import AliasConcurrentChangeError, PromoteUsageError, PublishError
from fnkit_ops.promote.gates import GateResult, Verdict, combine, judge_alarms, judge_health, read_alarms
from fnkit_ops.promote.metrics import CloudWatchMetricsReader, MetricsReader, VersionMetrics
from fnkit_ops.promote.preflight import Plan, preflight
from fnkit_ops.promote.publish import publish_image
from fnkit_ops.promote.report import Outcome, Report, iso
from fnkit_ops.promote.smoke import run_smoke
from fnkit_ops.promote.strategy import Step


@dataclass(frozen=True)
class PromotionResult:
    exit_code: int
    outcome: Outcome
    reason: str
    report: Report


class Promoter:
    def __init__(self, config: PromotionConfig, deps: Dependencies) -> None:
        self.config = config
        self.deps = deps
        self.alias = AliasClient(deps.lambda_client, config.function, config.alias)
        self.metrics: MetricsReader = deps.metrics or CloudWatchMetricsReader(
            deps.cloudwatch, config.function, config.alias, emf=config.gates.emf
        )
        self.report = Report(
            function=config.function,
            alias=config.alias,
            strategy={
                "spec": config.strategy.spec,
                "steps": [{"weight": s.weight, "minutes": s.minutes} for s in config.strategy.steps],
            },
            gates=config.gates.to_dict(),
            dry_run=config.dry_run,
            started_at=iso(deps.clock()),
            path=config.report_path,
        )
        self.plan: Plan | None = None
        self.state: AliasState | None = None

    # --- entry point ------------------------------------------------------------------------------

    def run(self) -> PromotionResult:
        cfg = self.config
        mode = " (dry run: reads only)" if cfg.dry_run else ""
        self._log(f"promote {cfg.function}:{cfg.alias} with {cfg.strategy.spec}{mode}")
        try:
            # Written before anything else: a report that cannot be written would otherwise fail on the
            # first alias write, after traffic has moved.
            self.report.save()
        except OSError as exc:
            self.report.path = None
            return self._finish(
                Outcome.PRECONDITION_FAILED,
                EXIT_PRECONDITION,
                f"cannot write --report {cfg.report_path}: {exc}",
            )
        try:
            publishing = cfg.publish_image is not None and not cfg.dry_run
            plan = preflight(cfg, self.deps, publish=self._publish if publishing else None)
        except (PromoteUsageError, ManifestError, PublishError, ClientError, BotoCoreError) as exc:
            # The alias has not been touched (--publish-image may have published a version).
            return self._finish(Outcome.PRECONDITION_FAILED, EXIT_PRECONDITION, _message(exc))
        self.plan, self.state = plan, plan.initial
        self.report.target_version = plan.target or None
        self.report.previous_version = plan.old
        self.report.resumed_from_weight = plan.resumed_from
        self.report.initial_alias = self.report.final_alias = plan.initial.to_dict()
        self._log(f"alias now: {plan.initial.describe()}; target version {plan.target or '(to publish)'}")
        if cfg.dry_run:
            return self._finish(Outcome.DRY_RUN, EXIT_PROMOTED, self._describe_plan(plan))
        try:
            return self._execute(plan)
        except AliasConcurrentChangeError as exc:
            return self._finish(Outcome.ABORTED, EXIT_ABORTED, str(exc))
        except KeyboardInterrupt:
            self._finish(Outcome.ABORTED, 130, "interrupted; rerun with --on-resume resume|rollback")
            raise
        except Exception as exc:
            # Whatever broke mid-shift (API error, bad response), traffic must not stay split.
            return self._rollback(f"error during promotion: {_message(exc)}")

    # --- phases -----------------------------------------------------------------------------------

    def _publish(self) -> str:
        image = str(self.config.publish_image)
        self._log(f"publishing {image} to {self.config.function} ($LATEST → new version)")
        published = publish_image(self.deps.lambda_client, self.config.function, image)
        self.report.published = published.to_dict()
        self._log(f"published version {published.version}")
        return published.version

    def _execute(self, plan: Plan) -> PromotionResult:
        if plan.rollback_only:
            return self._rollback(
                f"interrupted promotion found at {plan.resumed_from:.0%} to version {plan.target}; "
                "rolled back by --on-resume rollback"
            )
        if plan.resumed_from is not None:
            self._log(f"resuming an interrupted promotion at {plan.resumed_from:.0%}")
        if plan.golden:
            smoke = run_smoke(self.deps.lambda_client, self.config.function, plan.target, plan.golden)
            self.report.smoke = smoke.to_dict()
            self._log(
                f"smoke test of version {plan.target}: {smoke.samples} golden sample(s), "
                + ("passed" if smoke.passed else "FAILED")
            )
            if not smoke.passed:
                return self._rollback("smoke test failed: " + "; ".join(smoke.failures))
        if not plan.steps and plan.resumed_from is not None:
            alarms = judge_alarms(self._alarm_states(), self.config.gates.insufficient_data, final=True)
            if alarms.verdict is Verdict.FAIL:
                return self._rollback("; ".join(alarms.reasons))
        for index, step in enumerate(plan.steps, start=1):
            self._apply_step(index, len(plan.steps), step, plan)
            result = self._bake(step, plan)
            if result.verdict is Verdict.FAIL:
                return self._rollback(
                    f"step {index} at {step.weight:.0%} failed: " + "; ".join(result.reasons)
                )
        self._write("promote", lambda state: self.alias.point(state, plan.target))
        return self._finish(Outcome.PROMOTED, EXIT_PROMOTED, f"version {plan.target} takes all traffic")

    def _apply_step(self, index: int, total: int, step: Step, plan: Plan) -> None:
        state = self._current()
        self._log(f"step {index}/{total}: {step.weight:.0%} to version {plan.target} for {step.minutes} min")
        already = state.routed_version == plan.target and abs(state.routed_weight - step.weight) < 1e-9
        if not already:
            self._write(
                f"route {step.weight:g}", lambda s: self.alias.route(s, plan.old, plan.target, step.weight)
            )

    def _bake(self, step: Step, plan: Plan) -> GateResult:
        start = self.deps.clock()
        deadline = start + timedelta(seconds=step.seconds)
        record = self.report.start_step(step.weight, step.minutes, start)
        while True:
            now = self.deps.clock()
            final = now >= deadline
            result = self._evaluate(plan, start, now, final, record)
            if result.verdict is Verdict.FAIL or final:
                record["ended_at"] = iso(now)
                record["result"] = "failed" if result.verdict is Verdict.FAIL else "passed"
                self.report.save()
                return result
            self._ensure_unchanged()
            self.deps.sleep(min(self.config.poll_seconds, (deadline - now).total_seconds()))

    def _evaluate(
        self, plan: Plan, start: datetime, now: datetime, final: bool, record: dict[str, Any]
    ) -> GateResult:
        gates = self.config.gates
        states = self._alarm_states()
        alarms = judge_alarms(states, gates.insufficient_data, final)
        numbers = self.metrics.read([plan.target, plan.old], start, now, gates.with_latency)
        new, old = numbers[plan.target], numbers.get(plan.old)
        health = judge_health(new, old, gates, final)
        result = combine(alarms, health)
        record["readings"].append(
            {
                "at": iso(now),
                "final": final,
                "verdict": str(result.verdict),
                "reasons": list(result.reasons),
                "alarms": states,
                "new": new.to_dict(),
                "old": old.to_dict() if old else None,
            }
        )
        self.report.save()
        self._log(
            f"  {iso(now)} {_summary(new)} | old {_summary(old)} → {result.verdict}"
            + (f" ({'; '.join(result.reasons)})" if result.reasons else "")
        )
        return result

    # --- alias writes -----------------------------------------------------------------------------

    def _current(self) -> AliasState:
        if self.state is None:
            raise PromoteUsageError("promotion has no alias state (preflight did not run)")
        return self.state

    def _write(self, action: str, write: Callable[[AliasState], AliasState]) -> AliasState:
        state: AliasState = write(self._current())
        self.state = state
        self.report.record_write(action, state.to_dict(), self.deps.clock())
        self._log(f"alias {self.config.function}:{self.config.alias} → {state.describe()}")
        return state

    def _ensure_unchanged(self) -> None:
        """Stop early when someone else moved the alias while we bake (the next write would fail too)."""
        ours = self._current()
        theirs = self.alias.get()
        revision_moved = bool(theirs.revision_id) and theirs.revision_id != ours.revision_id
        if revision_moved or not theirs.same_routing(ours):
            self.report.final_alias = theirs.to_dict()
            raise AliasConcurrentChangeError(
                f"alias {self.config.function}:{self.config.alias} changed during the bake "
                f"(now {theirs.describe()}, revision {theirs.revision_id}); aborted without writing"
            )

    def _rollback(self, reason: str) -> PromotionResult:
        plan = self.plan
        state = self._current()
        if plan is not None and (state.weights or state.function_version != plan.old):
            self._log(f"rolling back: {reason}")
            try:
                self._write("rollback", lambda s: self.alias.point(s, plan.old))
            except Exception as exc:
                return self._finish(
                    Outcome.ABORTED,
                    EXIT_ABORTED,
                    f"{reason}; rollback failed ({_message(exc)}); alias left as {state.describe()}: "
                    "rerun with --on-resume rollback",
                )
        return self._finish(Outcome.ROLLED_BACK, EXIT_ROLLED_BACK, reason)

    # --- helpers ----------------------------------------------------------------------------------

    def _alarm_states(self) -> dict[str, str]:
        return read_alarms(self.deps.cloudwatch, self.config.gates.alarms)

    def _finish(self, outcome: Outcome, code: int, reason: str) -> PromotionResult:
        self.report.finish(outcome, code, reason, self.deps.clock())
        self._log(f"{outcome}: {reason} (exit {code})")
        return PromotionResult(code, outcome, reason, self.report)

    def _describe_plan(self, plan: Plan) -> str:
        if plan.rollback_only:
            return f"would roll back the interrupted promotion to version {plan.old}"
        steps = ", ".join(f"{s.weight:.0%} for {s.minutes} min" for s in plan.steps) or "no steps"
        smoke = f"smoke-test {len(plan.golden)} golden sample(s), " if plan.golden else ""
        target = plan.target or "the version published from --publish-image"
        return (
            f"would {smoke}shift {self.config.alias} from version {plan.old} to {target}: {steps}, then 100%"
        )

    def _log(self, line: str) -> None:
        self.deps.log(line)


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, PromoteUsageError) else str(exc)


def _summary(numbers: VersionMetrics | None) -> str:
    if numbers is None:
        return "-"
    p99 = f"{numbers.p99_ms:.0f}ms" if numbers.p99_ms is not None else "-"
    emf = f" [{numbers.server_errors:g} 5xx]" if numbers.server_errors is not None else ""
    return (
        f"v{numbers.version} {numbers.invocations:g} inv {numbers.errors:g} err{emf} "
        f"({numbers.error_rate:.1%}) p99 {p99}"
    )


def promote(config: PromotionConfig, deps: Dependencies) -> PromotionResult:
    """Run one promotion; see the module docstring for the states and exit codes."""
    return Promoter(config, deps).run()
