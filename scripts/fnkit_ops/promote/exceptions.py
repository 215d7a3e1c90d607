"""Promotion exceptions. `promote` turns them into its own exit codes (see `fnkit_ops.promote.cli`)."""

from __future__ import annotations

from fnkit_ops.exceptions import OpsError, UsageError


class PromoteError(OpsError):
    """A promotion failed after it started changing things; exit code 1 unless stated otherwise."""


class PromoteUsageError(UsageError):
    """A bad promotion argument or an unmet precondition; nothing was changed; exit code 2."""


class StrategyParseError(PromoteUsageError):
    """The --strategy string is not all-at-once, canary:PERCENT:MINUTES or linear:PERCENT:MINUTES."""


class FunctionNotFoundError(PromoteUsageError):
    """The Lambda function does not exist (or the caller may not read it)."""


class AliasNotFoundError(PromoteUsageError):
    """The alias does not exist on the function."""


class VersionNotFoundError(PromoteUsageError):
    """The target version does not exist on the function."""


class VersionNotPublishedError(PromoteUsageError):
    """A version taking part in routing is not a published, active version ($LATEST or pending)."""


class TargetIsCurrentError(PromoteUsageError):
    """The alias already points at the target version with no routing."""


class AliasBusyError(PromoteUsageError):
    """The alias is routing in a way fnkit did not start (no fnkit mark, or an unexpected shape)."""


class AliasInterruptedError(PromoteUsageError):
    """The alias is mid-promotion to the target and no --on-resume policy was given."""


class AlarmNotFoundError(PromoteUsageError):
    """A named CloudWatch alarm does not exist, so it could never gate anything."""


class PreflightGateError(PromoteUsageError):
    """A gate already fails before any traffic moved (an alarm in ALARM); nothing was changed."""


class RejectedArtifactError(PromoteUsageError):
    """The target's CodeSha256 was rolled back by an earlier promotion and --retry-rejected was not given."""


class RoutingRuleError(PromoteUsageError):
    """A routing request breaks Lambda's alias rules (two versions at most, weight in [0, 1), published)."""


class AliasConcurrentChangeError(PromoteError):
    """The alias changed under the promotion (RevisionId mismatch); aborted without overwriting it."""


class PublishError(PromoteError):
    """Updating $LATEST's image or publishing a version failed."""


class AlarmFollowError(PromoteError):
    """Re-pointing a per-version alarm at a version failed (describe_alarms or put_metric_alarm)."""


class PromotionInterrupted(BaseException):
    """SIGTERM or SIGINT arrived; a BaseException so no `except Exception` on the way swallows it."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
