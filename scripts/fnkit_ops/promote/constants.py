"""Promotion defaults, exit codes and the CloudWatch names the gates read."""

from __future__ import annotations

from typing import Final

DEFAULT_ALIAS: Final = "live"
DEFAULT_STRATEGY: Final = "canary:10:5"
DEFAULT_POLL_SECONDS: Final = 60.0
"""Lambda publishes AWS/Lambda metrics at one-minute resolution; polling faster only re-reads them."""
DEFAULT_MIN_INVOCATIONS: Final = 20
"""Invocations of the new version needed in a step before its numbers can pass the step."""
DEFAULT_MAX_ERROR_RATE: Final = 0.01
DEFAULT_MAX_ERROR_RATE_DELTA: Final = 0.005
"""How far the new version's error rate may exceed the old version's in the same window."""
DEFAULT_MAX_P99_RATIO: Final = 1.5
"""How many times the old version's p99 the new version's p99 may reach (InferenceTime with the EMF
source, else Duration)."""
DEFAULT_MAX_CLIENT_ERROR_RATE: Final = 0.05
"""Ceiling on the share of requests the new version answers with a 4xx (EMF ClientErrors / Requests)."""
DEFAULT_MAX_CLIENT_ERROR_RATE_DELTA: Final = 0.02
"""How far the new version's 4xx share may exceed the old version's in the same window."""
DEFAULT_MIN_LATENCY_SAMPLES: Final = 20
"""Latency samples (answered predictions) of the new version needed before its p99 is judged."""
DEFAULT_SETTLE_SECONDS: Final = 180.0
"""How long the last reading of a step waits after the step's minutes, so late metrics are counted.
AWS/Lambda metrics arrive about a minute late; EMF metrics are extracted from the function's logs
and can come later, and AWS states no bound: three minutes is a margin, not a guarantee."""
MAX_SETTLE_SECONDS: Final = 3600.0
MAX_STEP_MINUTES: Final = 1440

EXIT_PROMOTED: Final = 0
"""Alias at the new version with no routing (or a dry run whose checks all passed)."""
EXIT_ROLLED_BACK: Final = 1
"""A gate failed (or --on-resume rollback) and the alias is back at the old version, no routing."""
EXIT_PRECONDITION: Final = 2
"""Usage or precondition error; nothing was changed."""
EXIT_ABORTED: Final = 3
"""The alias changed under the promotion (RevisionId mismatch): stopped without writing again."""

# fnkit's mark in the alias description (see marks.py): `fnkit:1 shift=RUN/VERSION/SHA256 rejected=H,H`.
MARK_PREFIX: Final = "fnkit:1"
MAX_ALIAS_DESCRIPTION: Final = 256
"""Lambda's limit on an alias description."""
REJECTED_HEX: Final = 16
"""Rejected artifacts are recorded by the first 16 hex digits (64 bits) of their CodeSha256."""
MAX_REJECTED: Final = 6
"""The most recent rejections kept in the description (what fits beside a shift mark in 256 chars)."""
MAX_RUN_ID: Final = 40

LAMBDA_NAMESPACE: Final = "AWS/Lambda"
METRIC_INVOCATIONS: Final = "Invocations"
METRIC_ERRORS: Final = "Errors"
METRIC_DURATION: Final = "Duration"
LATENCY_STAT: Final = "p99"
SUM: Final = "Sum"
SAMPLE_COUNT: Final = "SampleCount"
AVERAGE: Final = "Average"
MAXIMUM: Final = "Maximum"
STATUS_COMPLETE: Final = "Complete"
# AWS/Lambda publishes per-version numbers of a weighted alias under exactly this dimension set:
# FunctionName, Resource = "<function>:<alias>", ExecutedVersion = "<version>".
DIM_FUNCTION_NAME: Final = "FunctionName"
DIM_RESOURCE: Final = "Resource"
DIM_EXECUTED_VERSION: Final = "ExecutedVersion"
# The function's own EMF metrics (fnkit_runtime.observability): Requests, ClientErrors, ServerErrors
# (health checks and warm-ups not counted; Lambda's Errors never sees a 4xx/5xx answer because the
# handler catches every exception), InferenceTime and ModelLoadTime, in the namespace
# POWERTOOLS_METRICS_NAMESPACE, with dimensions service (POWERTOOLS_SERVICE_NAME, added by
# powertools), model and function_version. Metric and the last two names: fnkit_runtime.constants.
DIM_EMF_SERVICE: Final = "service"

REPORT_SCHEMA_VERSION: Final = 2
