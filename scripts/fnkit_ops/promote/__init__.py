"""`fnkit promote`: alias weight shifting with alarm, per-version health and smoke gates, and rollback.

Modules, one concern each: `strategy` (parse schedules), `alias` (Lambda alias reads/writes with
RevisionId locking, routing rules and lost answers read back), `marks` (fnkit's mark on the alias:
the shift in flight, rejected images), `metrics` (per-version CloudWatch numbers, EMF or Lambda's),
`gates` (verdicts and policies), `alarms` (alarm gates, alarms following live), `watch` (one weight's
readings and settle time), `signals` (SIGTERM/SIGINT → rollback), `smoke` (golden-sample
invocation), `publish` (image → version), `preflight` (read-only checks → plan), `promoter` (the
state machine), `report` (JSON report), `cli`.
Importing this package is cheap: boto3/botocore load only with `promoter` (from `cli.run`).
"""

from __future__ import annotations

from fnkit_ops.promote.exceptions import (
    AliasConcurrentChangeError,
    PromoteError,
    PromoteUsageError,
    StrategyParseError,
)
from fnkit_ops.promote.strategy import Step, Strategy, StrategyKind, parse_strategy

__all__ = [
    "AliasConcurrentChangeError",
    "PromoteError",
    "PromoteUsageError",
    "Step",
    "Strategy",
    "StrategyKind",
    "StrategyParseError",
    "parse_strategy",
]
