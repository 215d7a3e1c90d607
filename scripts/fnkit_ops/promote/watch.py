"""Watching one weight: gate readings for a step's minutes, a settle wait, then the last reading.

    start ──── poll ──── poll ──── deadline ── (settle: polls go on) ── deadline + settle: last reading
                                                                         over [start, deadline]

Each reading reads the alarms and the per-version metrics and judges them (a FAIL ends the step at
once; WAIT and PASS keep watching: a step never ends early on good numbers). The last reading comes
`settle_seconds` after the step's minutes, so metrics that arrive late (AWS/Lambda's about a minute,
EMF's extracted from logs later) are counted; it covers the step's own window and cannot WAIT.
Between readings the alias is checked for writers other than this run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fnkit_ops.promote.alarms import judge_alarms, read_alarms
from fnkit_ops.promote.config import Dependencies, PromotionConfig
from fnkit_ops.promote.gates import GateResult, Verdict, combine, judge_reading, unsure
from fnkit_ops.promote.metrics import MetricsReader, VersionMetrics
from fnkit_ops.promote.report import Report, iso


@dataclass(frozen=True)
class Window:
    """One weight being watched: the target and the old version, and when the watch started."""

    new: str
    old: str
    start: datetime
    deadline: datetime
    settled: datetime


class Watch:
    def __init__(
        self,
        config: PromotionConfig,
        deps: Dependencies,
        metrics: MetricsReader,
        report: Report,
        check_alias: Callable[[], None],
    ) -> None:
        self.config = config
        self.deps = deps
        self.metrics = metrics
        self.report = report
        self.check_alias = check_alias

    def watch(self, weight: float, minutes: int, new: str, old: str, *, bake: bool = False) -> GateResult:
        """Watch `weight` of the traffic on `new` for `minutes` plus the settle time; the verdict."""
        start = self.deps.clock()
        deadline = start + timedelta(minutes=minutes)
        window = Window(new, old, start, deadline, deadline + timedelta(seconds=self.config.settle_seconds))
        record = self.report.start_step(weight, minutes, start, bake=bake)
        while True:
            now = self.deps.clock()
            final = now >= window.settled
            result = self.reading(window, now, final, record)
            if result.verdict is Verdict.FAIL or final:
                record["ended_at"] = iso(now)
                record["result"] = "failed" if result.verdict is Verdict.FAIL else "passed"
                self.report.save()
                return result
            self.check_alias()
            self.deps.sleep(min(self.config.poll_seconds, (window.settled - now).total_seconds()))

    def reading(self, window: Window, now: datetime, final: bool, record: dict[str, Any]) -> GateResult:
        gates = self.config.gates
        try:
            states = read_alarms(self.deps.cloudwatch, gates.alarms)
            alarms = judge_alarms(states, gates.insufficient_data, final)
        except (ClientError, BotoCoreError) as exc:
            states = {}
            alarms = unsure((f"CloudWatch describe_alarms failed: {type(exc).__name__}: {exc}",), final)
        # The last reading covers the step's own minutes, whose metrics have had the settle time to
        # arrive; the others cover what has arrived so far.
        end = window.deadline if final else now
        reading = self.metrics.read([window.new, window.old], window.start, end, gates.with_latency)
        health = judge_reading(reading, window.new, window.old, gates, final)
        result = combine(alarms, health)
        new, old = reading.numbers.get(window.new), reading.numbers.get(window.old)
        record["readings"].append(
            {
                "at": iso(now),
                "window_end": iso(end),
                "phase": "settle" if now >= window.deadline else "watch",
                "final": final,
                "verdict": str(result.verdict),
                "reasons": list(result.reasons),
                "alarms": states,
                "new": new.to_dict() if new else None,
                "old": old.to_dict() if old else None,
                "problems": list(reading.problems),
            }
        )
        self.report.save()
        self.deps.log(
            f"  {iso(now)} {summary(new)} | old {summary(old)} → {result.verdict}"
            + (f" ({'; '.join(result.reasons)})" if result.reasons else "")
        )
        return result


def summary(numbers: VersionMetrics | None) -> str:
    if numbers is None:
        return "-"
    p99 = f"{numbers.p99_ms:.0f}ms" if numbers.p99_ms is not None else "-"
    if not numbers.emf:
        return (
            f"v{numbers.version} {numbers.invocations:g} inv {numbers.errors:g} err "
            f"({numbers.error_rate:.1%}) p99 {p99}"
        )
    return (
        f"v{numbers.version} {numbers.work:g} req {numbers.errors:g} err ({numbers.error_rate:.1%}) "
        f"{numbers.client_errors:g} 4xx ({numbers.client_error_rate or 0.0:.1%}) p99 {p99} "
        f"cold {numbers.cold_starts:g}"
    )
