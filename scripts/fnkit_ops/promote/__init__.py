"""`fnkit promote`: alias weight shifting with alarm, per-version health and smoke gates, and rollback.

Modules, one concern each: `strategy` (parse schedules), `alias` (Lambda alias reads/writes with
RevisionId locking and routing rules), `metrics` (per-version CloudWatch numbers), `gates` (verdicts
and policies), `smoke` (golden-sample invocation), `publish` (image → version), `preflight`
(read-only checks → plan), `promoter` (the state machine), `report` (JSON report), `cli`.
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
