"""The promotion state machine.

    preflight (read-only; any failure → exit 2, nothing changed)
    → [--publish-image: update $LATEST, wait, publish version N]
    → [a stale fnkit shift to another version (a killed run): rolled back first]
    → [--smoke-manifest: invoke version N directly with the golden requests]
    → alarms re-pointed at N; for each step: set the target's weight (RevisionId-locked, marked with
      this run, N and its CodeSha256), watch the gates for the step's minutes, settle, last reading
    → 100 %: alias at version N, no routing; [--bake-minutes: the gates stay on]
    → alarms follow live; exit 0.
A failed gate → alias back at the old version with no routing and the target's CodeSha256 recorded
as rejected on the alias (exit 1). SIGTERM/SIGINT, or an error mid-shift → the same rollback, no
rejection (exit 1). A RevisionId mismatch or an alias moved by someone else → stop without another
write (exit 3). Time only comes from the injected clock and sleep.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from fnkit_runtime.exceptions import ManifestError

from fnkit_ops.promote.alarms import judge_alarms, point_alarms, read_alarms
from fnkit_ops.promote.alias import AliasClient, AliasState
from fnkit_ops.promote.config import Dependencies, PromotionConfig
from fnkit_ops.promote.constants import EXIT_ABORTED, EXIT_PRECONDITION, EXIT_PROMOTED, EXIT_ROLLED_BACK
from fnkit_ops.promote.exceptions import (
    AlarmFollowError,
    AliasConcurrentChangeError,
    PromoteUsageError,
    PromotionInterrupted,
    PublishError,
    RejectedArtifactError,
)
from fnkit_ops.promote.gates import Verdict
from fnkit_ops.promote.marks import AliasMark, Shift, new_run_id
from fnkit_ops.promote.metrics import CloudWatchMetricsReader, MetricsReader
from fnkit_ops.promote.preflight import Plan, fnkit_shift, preflight
from fnkit_ops.promote.publish import publish_image
from fnkit_ops.promote.report import Outcome, Report, iso
from fnkit_ops.promote.signals import Interrupts, interruptible
from fnkit_ops.promote.smoke import run_smoke
from fnkit_ops.promote.strategy import Step
from fnkit_ops.promote.watch import Watch


@dataclass(frozen=True)
class PromotionResult:
    exit_code: int
    outcome: Outcome
    reason: str
    report: Report


class GateFailed(Exception):
    """A gate rolled the target back: its CodeSha256 is recorded as rejected."""


class Promoter:
    def __init__(self, config: PromotionConfig, deps: Dependencies) -> None:
        self.config = config
        self.deps = deps
        self.run_id = config.run_id or new_run_id(deps.clock())
        self.alias = AliasClient(deps.lambda_client, config.function, config.alias)
        metrics: MetricsReader = deps.metrics or CloudWatchMetricsReader(
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
            run_id=self.run_id,
            settle_seconds=config.settle_seconds,
            bake_minutes=config.bake_minutes,
        )
        self.watch = Watch(config, deps, metrics, self.report, self._ensure_unchanged)
        self.plan: Plan | None = None
        self.state: AliasState | None = None
        self.pending: AliasState | None = None
        """The alias as the write in flight will leave it (its answer may be lost to a signal)."""
        self.mark = AliasMark()
        self.interrupts = Interrupts()

    # --- entry point ------------------------------------------------------------------------------

    def run(self) -> PromotionResult:
        cfg = self.config
        mode = " (dry run: reads only)" if cfg.dry_run else ""
        self._log(f"promote {cfg.function}:{cfg.alias} with {cfg.strategy.spec}, run {self.run_id}{mode}")
        try:
            # Written before anything else: a report that cannot be written would otherwise fail on the
            # first alias write, after traffic has moved.
            self.report.save()
        except OSError as exc:
            self.report.path = None
            reason = f"cannot write --report {cfg.report_path}: {exc}"
            return self._finish(Outcome.PRECONDITION_FAILED, EXIT_PRECONDITION, reason)
        with interruptible() as self.interrupts:
            try:
                return self._run()
            except PromotionInterrupted as signal:
                return self._interrupted(signal.signal_name)

    def _preflight(self) -> Plan | PromotionResult:
        cfg = self.config
        try:
            publishing = cfg.publish_image is not None and not cfg.dry_run
            return preflight(cfg, self.deps, publish=self._publish if publishing else None)
        except RejectedArtifactError as exc:
            return self._finish(Outcome.SKIPPED_REJECTED, EXIT_PRECONDITION, str(exc))
        except (PromoteUsageError, ManifestError, PublishError, ClientError, BotoCoreError) as exc:
            # The alias has not been touched (--publish-image may have published a version).
            return self._finish(Outcome.PRECONDITION_FAILED, EXIT_PRECONDITION, _message(exc))

    def _run(self) -> PromotionResult:
        cfg = self.config
        plan = self._preflight()
        if isinstance(plan, PromotionResult):
            return plan
        self.plan, self.state, self.mark = plan, plan.initial, plan.mark
        self.report.target_version = plan.target or None
        self.report.target_sha256 = plan.target_sha256 or None
        self.report.previous_version = plan.old
        self.report.resumed_from_weight = plan.resumed_from
        self.report.stale_shift = plan.stale.to_dict() if plan.stale else None
        self.report.initial_alias = self.report.final_alias = plan.initial.to_dict()
        self._log(f"alias now: {plan.initial.describe()}; target version {plan.target or '(to publish)'}")
        if cfg.dry_run:
            return self._finish(Outcome.DRY_RUN, EXIT_PROMOTED, self._describe_plan(plan))
        try:
            return self._execute(plan)
        except AliasConcurrentChangeError as exc:
            return self._finish(Outcome.ABORTED, EXIT_ABORTED, str(exc))
        except GateFailed as exc:
            return self._rollback(str(exc), reject=True)
        except Exception as exc:
            # Whatever broke mid-shift (API error, bad response), traffic must not stay split.
            return self._rollback(f"error during promotion: {_message(exc)}")

    def _interrupted(self, signal_name: str) -> PromotionResult:
        self.report.interrupted_by = signal_name
        self._log(f"{signal_name} received: rolling back")
        result = self._rollback(f"interrupted by {signal_name}")
        if len(self.interrupts.received) > 1:
            self._log(f"signals received while rolling back (ignored): {self.interrupts.received[1:]}")
        return result

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
        if plan.stale is not None:
            self._roll_back_stale(plan.stale, plan)
            if plan.target == plan.old:
                return self._finish(
                    Outcome.PROMOTED, EXIT_PROMOTED, f"version {plan.target} takes all traffic again"
                )
        if plan.resumed_from is not None:
            self._log(f"resuming an interrupted promotion at {plan.resumed_from:.0%}")
        self._smoke(plan)
        self._follow_alarms(plan.target, strict=True)
        if not plan.steps and plan.resumed_from is not None:
            alarms = judge_alarms(self._alarm_states(), self.config.gates.insufficient_data, final=True)
            if alarms.verdict is Verdict.FAIL:
                raise GateFailed("; ".join(alarms.reasons))
        for index, step in enumerate(plan.steps, start=1):
            self._apply_step(index, len(plan.steps), step, plan)
            result = self.watch.watch(step.weight, step.minutes, plan.target, plan.old)
            if result.verdict is Verdict.FAIL:
                raise GateFailed(f"step {index} at {step.weight:.0%} failed: " + "; ".join(result.reasons))
        self.mark = self.mark.settled().forgive(plan.target_sha256)
        self._write("promote", plan.target, {})
        if self.config.bake_minutes:
            self._log(f"bake: version {plan.target} at 100% for {self.config.bake_minutes} min, gates on")
            result = self.watch.watch(1.0, self.config.bake_minutes, plan.target, plan.old, bake=True)
            if result.verdict is Verdict.FAIL:
                raise GateFailed("bake after 100% failed: " + "; ".join(result.reasons))
        self._follow_alarms(plan.target)
        return self._finish(Outcome.PROMOTED, EXIT_PROMOTED, f"version {plan.target} takes all traffic")

    def _roll_back_stale(self, stale: Shift, plan: Plan) -> None:
        self._log(
            f"found fnkit's shift to version {stale.version} left by run {stale.run_id}: rolling it back"
        )
        self.mark = self.mark.settled()
        self._write(f"rollback stale shift of run {stale.run_id}", plan.old, {})

    def _smoke(self, plan: Plan) -> None:
        if not plan.golden:
            return
        smoke = run_smoke(self.deps.lambda_client, self.config.function, plan.target, plan.golden)
        self.report.smoke = smoke.to_dict()
        self.report.save()
        verdict = "passed" if smoke.passed else "FAILED"
        self._log(f"smoke test of version {plan.target}: {smoke.samples} golden sample(s), {verdict}")
        if not smoke.passed:
            raise GateFailed("smoke test failed: " + "; ".join(smoke.failures))

    def _apply_step(self, index: int, total: int, step: Step, plan: Plan) -> None:
        state = self._current()
        self._log(f"step {index}/{total}: {step.weight:.0%} to version {plan.target} for {step.minutes} min")
        self.mark = self.mark.shifting(Shift(self.run_id, plan.target, plan.target_sha256))
        already = state.routed_version == plan.target and abs(state.routed_weight - step.weight) < 1e-9
        if not already or state.description != self.mark.render():
            self._write(f"route {step.weight:g}", plan.old, {plan.target: step.weight})

    # --- alias writes -----------------------------------------------------------------------------

    def _current(self) -> AliasState:
        if self.state is None:
            raise PromoteUsageError("promotion has no alias state (preflight did not run)")
        return self.state

    def _write(self, action: str, primary: str, weights: dict[str, float]) -> AliasState:
        description = self.mark.render()
        self.pending = AliasState(primary, dict(weights), "", description)
        state = self.alias.write(self._current(), primary, weights, description)
        self.state, self.pending = state, None
        self.report.record_write(action, state.to_dict(), self.deps.clock())
        self._log(f"alias {self.config.function}:{self.config.alias} → {state.describe()}")
        return state

    def _ensure_unchanged(self) -> None:
        """Stop early when someone else moved the alias while we watch (the next write would fail too)."""
        ours = self._current()
        theirs = self.alias.get()
        revision_moved = bool(theirs.revision_id) and theirs.revision_id != ours.revision_id
        if revision_moved or not theirs.same_as(ours):
            self.report.final_alias = theirs.to_dict()
            raise AliasConcurrentChangeError(
                f"alias {self.config.function}:{self.config.alias} changed during the step "
                f"(now {theirs.describe()}, revision {theirs.revision_id}); aborted without writing"
            )

    def _rollback(self, reason: str, reject: bool = False) -> PromotionResult:
        """Alias back at the old version, no routing; with `reject`, the target recorded as rejected.
        Signals arriving meanwhile do not interrupt it."""
        with self.interrupts.shielded():
            plan = self.plan
            if plan is None or self.state is None:
                return self._finish(Outcome.ROLLED_BACK, EXIT_ROLLED_BACK, f"{reason}; nothing had moved")
            self.mark = self.mark.settled()
            if reject and plan.target_sha256:
                self.mark = self.mark.reject(plan.target_sha256)
                self.report.rejection = {"sha256": plan.target_sha256, "recorded": False}
            try:
                state = self._resync()
                moved = bool(state.weights) or state.function_version != plan.old
                if moved or state.description != self.mark.render():
                    self._log(f"rolling back: {reason}")
                    self._write("rollback", plan.old, {})
            except Exception as exc:
                return self._finish(
                    Outcome.ABORTED,
                    EXIT_ABORTED,
                    f"{reason}; rollback failed ({_message(exc)}); alias left as "
                    f"{self._current().describe()}: rerun with --on-resume rollback",
                )
            if self.report.rejection is not None:
                self.report.rejection["recorded"] = True
            self._follow_alarms(plan.old)
            return self._finish(Outcome.ROLLED_BACK, EXIT_ROLLED_BACK, reason)

    def _resync(self) -> AliasState:
        """The alias as it is, when it is ours to roll back: as we last wrote it, as our write in flight
        (its answer lost to a signal or an error) left it, or carrying this run's shift mark.
        Anything else is someone else's: AliasConcurrentChangeError."""
        ours = self._current()
        theirs = self.alias.get()
        pending = self.pending
        mine = fnkit_shift(theirs)
        if (
            theirs.same_as(ours)
            or (pending is not None and theirs.same_as(pending))
            or (mine is not None and mine.run_id == self.run_id)
        ):
            self.state, self.pending = theirs, None
            return theirs
        raise AliasConcurrentChangeError(
            f"alias {self.config.function}:{self.config.alias} is {theirs.describe()}, not as this run "
            "left it; not rolled back over someone else's change"
        )

    # --- helpers ----------------------------------------------------------------------------------

    def _follow_alarms(self, version: str, strict: bool = False) -> None:
        """Point the --alarm per-version dimensions at `version`. Before traffic moves (`strict`) a
        failure stops the promotion; at the end it is reported and the outcome stands."""
        if not self.config.follow_alarms or not self.config.gates.alarms:
            return
        try:
            alarms, function = self.config.gates.alarms, self.config.function
            moves = point_alarms(self.deps.cloudwatch, alarms, function, version)
        except AlarmFollowError as exc:
            self.report.alarms_followed.append({"version": version, "error": str(exc)})
            self.report.save()
            self._log(f"alarms NOT re-pointed at version {version}: {exc}")
            if strict:
                raise
            return
        self.report.alarms_followed += [m.to_dict() for m in moves]
        self.report.save()
        for move in (m for m in moves if m.written):
            self._log(f"alarm {move.alarm}: version {', '.join(move.before)} → {version}")

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
        stale = f"roll back run {plan.stale.run_id}'s stale shift, " if plan.stale else ""
        target = plan.target or "the version published from --publish-image"
        return (
            f"would {stale}{smoke}shift {self.config.alias} from version {plan.old} to {target}: "
            f"{steps}, then 100%"
        )

    def _log(self, line: str) -> None:
        self.deps.log(line)


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, PromoteUsageError) else str(exc)


def promote(config: PromotionConfig, deps: Dependencies) -> PromotionResult:
    """Run one promotion; see the module docstring for the states and exit codes."""
    return Promoter(config, deps).run()
