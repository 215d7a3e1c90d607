"""The promotion's configuration and its injectable dependencies (AWS clients, clock, sleep, output)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from fnkit_build.progress import Progress

from fnkit_ops.promote.constants import (
    DEFAULT_ALIAS,
    DEFAULT_POLL_SECONDS,
    DEFAULT_SETTLE_SECONDS,
    MAX_SETTLE_SECONDS,
    MAX_STEP_MINUTES,
)
from fnkit_ops.promote.exceptions import PromoteUsageError
from fnkit_ops.promote.gates import GateConfig
from fnkit_ops.promote.marks import check_run_id
from fnkit_ops.promote.metrics import MetricsReader
from fnkit_ops.promote.strategy import Strategy


class ResumePolicy(StrEnum):
    """What to do when the alias is already routing part of its traffic to the target version."""

    RESUME = "resume"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class PromotionConfig:
    function: str
    strategy: Strategy
    gates: GateConfig
    version: str | None = None
    alias: str = DEFAULT_ALIAS
    publish_image: str | None = None
    smoke_manifest: Path | None = None
    on_resume: ResumePolicy | None = None
    poll_seconds: float = DEFAULT_POLL_SECONDS
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    """After a step's minutes, how long its last reading waits for late metrics."""
    bake_minutes: int = 0
    """After 100 %, how long the gates stay on (0: none); a failure rolls back."""
    run_id: str = ""
    """Written into the alias's mark with every shift; empty: generated from the clock."""
    retry_rejected: bool = False
    """Promote a version whose CodeSha256 an earlier run rolled back."""
    follow_alarms: bool = True
    """Re-point the --alarm per-version dimensions at the target, then at what live serves."""
    dry_run: bool = False
    report_path: Path | None = None

    def __post_init__(self) -> None:
        if not self.function.strip():
            raise PromoteUsageError("--function is empty")
        if not self.alias.strip():
            raise PromoteUsageError("--alias is empty")
        if (self.version is None) == (self.publish_image is None):
            raise PromoteUsageError("give exactly one of --version N and --publish-image URI")
        if self.version is not None and not (self.version.isdigit() and int(self.version) > 0):
            raise PromoteUsageError(f"--version {self.version!r} is not a published version number")
        if self.poll_seconds <= 0:
            raise PromoteUsageError(f"--poll-seconds {self.poll_seconds} must be positive")
        if not 0 <= self.settle_seconds <= MAX_SETTLE_SECONDS:
            raise PromoteUsageError(
                f"--settle-seconds {self.settle_seconds:g} must be 0..{MAX_SETTLE_SECONDS:g}"
            )
        if not 0 <= self.bake_minutes <= MAX_STEP_MINUTES:
            raise PromoteUsageError(f"--bake-minutes {self.bake_minutes} must be 0..{MAX_STEP_MINUTES}")
        if self.run_id:
            check_run_id(self.run_id)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dependencies:
    """Everything the promotion touches outside itself; tests replace the clock, sleep and readers."""

    lambda_client: Any
    cloudwatch: Any
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = field(default_factory=lambda: Progress("promote"))
    """Where the promotion's progress goes: the one progress sink, on stderr."""
    metrics: MetricsReader | None = None
    """Per-version metrics; default: CloudWatchMetricsReader over `cloudwatch`."""

    @classmethod
    def from_boto3(cls) -> Dependencies:
        """Clients with boto3's standard configuration: region, credentials, AWS_ENDPOINT_URL."""
        import boto3  # boto3 costs ~330 ms to import; only `run` pays it

        session = boto3.session.Session()
        return cls(lambda_client=session.client("lambda"), cloudwatch=session.client("cloudwatch"))
