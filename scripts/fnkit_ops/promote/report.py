"""The promotion's JSON report for CI: plan, steps with every gate reading, final state and reason.

It is rewritten atomically (temp file + os.replace, `fnkit_runtime.manifest.write_atomic`) after each
change of state, so a run killed midway still leaves a readable report of what it had done.

Shape (schema_version 1):
    {"schema_version": 1, "function", "alias", "target_version", "previous_version",
     "strategy": {"spec", "steps": [{"weight", "minutes"}]}, "gates": {...GateConfig...},
     "dry_run", "resumed_from_weight", "started_at", "finished_at",
     "outcome": "promoted" | "rolled_back" | "precondition_failed" | "aborted" | "dry_run" | "running",
     "exit_code", "reason",
     "smoke": null | {"passed", "samples", "failures", "details"},
     "published": null | {"image_uri", "version", "code_sha256"},
     "steps": [{"weight", "minutes", "started_at", "ended_at", "result",
                "readings": [{"at", "final", "verdict", "reasons", "alarms", "new", "old"}]}],
     "alias_writes": [{"at", "action", "state"}],
     "initial_alias": {...}, "final_alias": {"function_version", "weights", "revision_id"}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from fnkit_runtime.manifest import write_atomic

from fnkit_ops.promote.constants import EXIT_PRECONDITION, REPORT_SCHEMA_VERSION


class Outcome(StrEnum):
    RUNNING = "running"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    PRECONDITION_FAILED = "precondition_failed"
    ABORTED = "aborted"
    DRY_RUN = "dry_run"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass
class Report:
    function: str
    alias: str
    strategy: dict[str, Any]
    gates: dict[str, Any]
    dry_run: bool
    started_at: str
    path: Path | None = None
    target_version: str | None = None
    previous_version: str | None = None
    resumed_from_weight: float | None = None
    outcome: Outcome = Outcome.RUNNING
    exit_code: int | None = None
    reason: str = ""
    finished_at: str | None = None
    smoke: dict[str, Any] | None = None
    published: dict[str, Any] | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    alias_writes: list[dict[str, Any]] = field(default_factory=list)
    initial_alias: dict[str, Any] | None = None
    final_alias: dict[str, Any] | None = None

    def start_step(self, weight: float, minutes: int, at: datetime) -> dict[str, Any]:
        step: dict[str, Any] = {
            "weight": weight,
            "minutes": minutes,
            "started_at": iso(at),
            "ended_at": None,
            "result": "running",
            "readings": [],
        }
        self.steps.append(step)
        self.save()
        return step

    def record_write(self, action: str, state: dict[str, Any], at: datetime) -> None:
        self.alias_writes.append({"at": iso(at), "action": action, "state": state})
        self.final_alias = state
        self.save()

    def finish(self, outcome: Outcome, exit_code: int, reason: str, at: datetime) -> None:
        self.outcome = outcome
        self.exit_code = exit_code
        self.reason = reason
        self.finished_at = iso(at)
        self.save()

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "function": self.function,
            "alias": self.alias,
            "target_version": self.target_version,
            "previous_version": self.previous_version,
            "strategy": self.strategy,
            "gates": self.gates,
            "dry_run": self.dry_run,
            "resumed_from_weight": self.resumed_from_weight,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": str(self.outcome),
            "exit_code": self.exit_code,
            "reason": self.reason,
            "smoke": self.smoke,
            "published": self.published,
            "steps": self.steps,
            "alias_writes": self.alias_writes,
            "initial_alias": self.initial_alias,
            "final_alias": self.final_alias,
        }

    def save(self) -> None:
        if self.path is None:
            return
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str) + "\n"
        write_atomic(self.path, text.encode("utf-8"))


def write_usage_failure(path: Path | None, function: str, reason: str) -> None:
    """A report for a run refused before it could start (bad arguments): outcome precondition_failed."""
    if path is None:
        return
    report = Report(
        function=function, alias="", strategy={}, gates={}, dry_run=False, started_at="", path=path
    )
    report.outcome = Outcome.PRECONDITION_FAILED
    report.exit_code = EXIT_PRECONDITION
    report.reason = reason
    report.save()
