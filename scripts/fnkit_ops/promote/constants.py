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
"""How many times the old version's p99 Duration the new version's p99 may reach."""
MAX_STEP_MINUTES: Final = 1440

EXIT_PROMOTED: Final = 0
"""Alias at the new version with no routing (or a dry run whose checks all passed)."""
EXIT_ROLLED_BACK: Final = 1
"""A gate failed (or --on-resume rollback) and the alias is back at the old version, no routing."""
EXIT_PRECONDITION: Final = 2
"""Usage or precondition error; nothing was changed."""
EXIT_ABORTED: Final = 3
"""The alias changed under the promotion (RevisionId mismatch): stopped without writing again."""

LAMBDA_NAMESPACE: Final = "AWS/Lambda"
METRIC_INVOCATIONS: Final = "Invocations"
METRIC_ERRORS: Final = "Errors"
METRIC_DURATION: Final = "Duration"
LATENCY_STAT: Final = "p99"
# AWS/Lambda publishes per-version numbers of a weighted alias under exactly this dimension set:
# FunctionName, Resource = "<function>:<alias>", ExecutedVersion = "<version>".
DIM_FUNCTION_NAME: Final = "FunctionName"
DIM_RESOURCE: Final = "Resource"
DIM_EXECUTED_VERSION: Final = "ExecutedVersion"
# The function's own EMF counts (fnkit_runtime.observability): `ServerErrors` (5xx answers, which
# Lambda's Errors never sees because the handler catches every exception) in the namespace
# POWERTOOLS_METRICS_NAMESPACE, with dimensions service (POWERTOOLS_SERVICE_NAME, added by
# powertools), model and function_version. Metric and the last two names: fnkit_runtime.constants.
DIM_EMF_SERVICE: Final = "service"
EMF_STAT: Final = "Sum"

REPORT_SCHEMA_VERSION: Final = 1
