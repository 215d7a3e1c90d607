"""The promotion's JSON report for CI: plan, steps with every gate reading, final state and reason.

It is rewritten atomically (temp file + os.replace, `fnkit_runtime.manifest.write_atomic`) after each
change of state, so a run killed midway still leaves a readable report of what it had done.

Shape (schema_version 2):
    {"schema_version": 2, "run_id", "function", "alias", "target_version", "target_sha256",
     "previous_version", "strategy": {"spec", "steps": [{"weight", "minutes"}]},
     "gates": {...GateConfig...}, "settle_seconds", "bake_minutes",
     "dry_run", "resumed_from_weight", "stale_shift": null | {"run_id", "version", "sha256"},
     "started_at", "finished_at",
     "outcome": "promoted" | "rolled_back" | "precondition_failed" | "skipped_rejected" | "aborted"
                | "dry_run" | "running",
     "exit_code", "reason", "interrupted_by": null | "SIGTERM" | "SIGINT",
     "rejection": null | {"sha256", "recorded"},
     "smoke": null | {"passed", "samples", "failures", "details"},
     "published": null | {"image_uri", "version", "code_sha256"},
     "steps": [STEP], "bake": null | STEP,
       STEP = {"weight", "minutes", "started_at", "ended_at", "result",
               "readings": [{"at", "window_end", "phase", "final", "verdict", "reasons", "alarms",
                             "new", "old", "problems"}]}
     "alias_writes": [{"at", "action", "state"}],
     "alarms_followed": [{"alarm", "before", "version", "written"} | {"error", "version"}],
     "initial_alias": {...}, "final_alias": {"function_version", "weights", "revision_id", "description"}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fnkit_runtime.manifest import write_atomic

from fnkit_ops.promote.constants import EXIT_PRECONDITION, REPORT_SCHEMA_VERSION

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class Outcome(StrEnum):
    RUNNING = "running"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    PRECONDITION_FAILED = "precondition_failed"
    SKIPPED_REJECTED = "skipped_rejected"
    ABORTED = "aborted"
    DRY_RUN = "dry_run"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def record_dict(record: DataclassInstance) -> dict[str, Any]:
    """A record of the report (an alias state, an alarm move, a smoke result ...) as its JSON holds it:
    the fields by name, in their order; tuples and lists as lists, mappings as dicts (copies)."""
    return {f.name: _plain(getattr(record, f.name)) for f in fields(record)}


@dataclass
class Report:
    function: str
    alias: str
    strategy: dict[str, Any]
    gates: dict[str, Any]
    dry_run: bool
    started_at: str
    path: Path | None = None
    run_id: str = ""
    settle_seconds: float = 0.0
    bake_minutes: int = 0
    target_version: str | None = None
    target_sha256: str | None = None
    previous_version: str | None = None
    resumed_from_weight: float | None = None
    stale_shift: dict[str, Any] | None = None
    interrupted_by: str | None = None
    rejection: dict[str, Any] | None = None
    outcome: Outcome = Outcome.RUNNING
    exit_code: int | None = None
    reason: str = ""
    finished_at: str | None = None
    smoke: dict[str, Any] | None = None
    published: dict[str, Any] | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    bake: dict[str, Any] | None = None
    alias_writes: list[dict[str, Any]] = field(default_factory=list)
    alarms_followed: list[dict[str, Any]] = field(default_factory=list)
    initial_alias: dict[str, Any] | None = None
    final_alias: dict[str, Any] | None = None

    def start_step(self, weight: float, minutes: int, at: datetime, *, bake: bool = False) -> dict[str, Any]:
        """A new record in `steps` (or, for the bake after 100 %, `bake`), saved at once."""
        step: dict[str, Any] = {
            "weight": weight,
            "minutes": minutes,
            "started_at": iso(at),
            "ended_at": None,
            "result": "running",
            "readings": [],
        }
        if bake:
            self.bake = step
        else:
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
            "run_id": self.run_id,
            "function": self.function,
            "alias": self.alias,
            "target_version": self.target_version,
            "target_sha256": self.target_sha256,
            "previous_version": self.previous_version,
            "strategy": self.strategy,
            "gates": self.gates,
            "settle_seconds": self.settle_seconds,
            "bake_minutes": self.bake_minutes,
            "dry_run": self.dry_run,
            "resumed_from_weight": self.resumed_from_weight,
            "stale_shift": self.stale_shift,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": str(self.outcome),
            "exit_code": self.exit_code,
            "reason": self.reason,
            "interrupted_by": self.interrupted_by,
            "rejection": self.rejection,
            "smoke": self.smoke,
            "published": self.published,
            "steps": self.steps,
            "bake": self.bake,
            "alias_writes": self.alias_writes,
            "alarms_followed": self.alarms_followed,
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
