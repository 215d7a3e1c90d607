"""Metrics (CloudWatch EMF) and structured logs through powertools; one instance of each.

Namespace and service come from the environment (POWERTOOLS_METRICS_NAMESPACE,
POWERTOOLS_SERVICE_NAME), set by the template. Every metric of the main EMF document carries the
dimensions `service`, `model` and `function_version`, so a canary version is judged on its own numbers.
Per-class error counts go to their own document (dimension `error_class`), so that low-cardinality
class never splits the other metrics.

Health checks and warm-ups are probes, not requests (`mark_probe`): they add no `Requests`, and their
failures no `ClientErrors`/`ServerErrors` (only the per-class `Errors` document, and ModelLoadErrors
for a load failure, see them). So `ClientErrors / Requests` and `ServerErrors / Requests` are the
shares of clients' requests a version failed, whatever its health checks and warm-ups did.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from fnkit_runtime import constants as c
from fnkit_runtime import lazy_modules

# Before powertools is imported: its Logger imports these eagerly, for options fnkit never sets
# (a correlation-id JMESPath, log sampling); each runs on its first use (see lazy_modules).
lazy_modules.defer("aws_lambda_powertools.utilities.jmespath_utils")
lazy_modules.defer("random")

from aws_lambda_powertools import Logger, Metrics, single_metric  # noqa: E402
from aws_lambda_powertools.metrics import MetricUnit  # noqa: E402

# A health check or a rejected-before-loading request may publish no application metric; that is
# expected here, so powertools' per-flush "No application metrics to publish" warning is silenced.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

metrics = Metrics(namespace=os.environ.get(c.METRICS_NAMESPACE_ENV) or c.DEFAULT_NAMESPACE)
logger = Logger()


class _Invocation:
    """The current invocation's kind (Lambda runs one invocation at a time per process)."""

    probe = False
    """A health check or a warm-up."""
    restored = False
    """Restored from a SnapStart snapshot and not yet invoked."""
    identity: tuple[str, str] | None = None
    """(model, function version) the dimensions and log keys were last set to."""


_current = _Invocation()


def function_version(context: Any) -> str:
    """The running version ("$LATEST", "7"): from the context, else Lambda's env var."""
    version = getattr(context, "function_version", None)
    if isinstance(version, str) and version:
        return version
    return os.environ.get(c.FUNCTION_VERSION_ENV) or c.DEFAULT_FUNCTION_VERSION


def begin_invocation(model_name: str, version: str) -> None:
    """Set the dimensions every metric of this invocation carries, and the log keys.

    Both persist between invocations (powertools keeps default dimensions and appended keys), so they
    are set again only when they change: a warm invocation of the same version does not pay for it.
    """
    _current.probe = False
    identity = (model_name, version)
    if identity == _current.identity and metrics.default_dimensions:
        return
    _current.identity = identity
    metrics.set_default_dimensions(
        **{c.DIMENSION_MODEL: model_name or "unknown", c.DIMENSION_FUNCTION_VERSION: version}
    )
    logger.append_keys(model=model_name, function_version=version)


def mark_probe() -> None:
    """This invocation is a health check or a warm-up: not a request, its errors not request errors."""
    _current.probe = True


def mark_restored() -> None:
    """This environment was restored from a SnapStart snapshot: the next invocation says so."""
    _current.restored = True


def end_invocation() -> None:
    """Count the invocation as one `Requests` unless it was a probe (and the first after a SnapStart
    restore as one `SnapStartRestores`); call before metrics flush."""
    if not _current.probe:
        metrics.add_metric(name=c.METRIC_REQUESTS, unit=MetricUnit.Count, value=1)
    if _current.restored:
        _current.restored = False
        metrics.add_metric(name=c.METRIC_RESTORES, unit=MetricUnit.Count, value=1)


def record_model_load(load_ms: float) -> None:
    metrics.add_metric(name=c.METRIC_MODEL_LOAD_TIME, unit=MetricUnit.Milliseconds, value=load_ms)


def record_inference(inference_ms: float, batch_size: int) -> None:
    metrics.add_metric(name=c.METRIC_INFERENCE_TIME, unit=MetricUnit.Milliseconds, value=inference_ms)
    metrics.add_metric(name=c.METRIC_BATCH_SIZE, unit=MetricUnit.Count, value=batch_size)


def record_warmup() -> None:
    metrics.add_metric(name=c.METRIC_WARMUPS, unit=MetricUnit.Count, value=1)


def record_error(error_class: str, status: int, *, load_failure: bool = False) -> None:
    """Count an error: 4xx/5xx totals in the main document (requests only), the class in its own."""
    if not _current.probe:
        total = c.METRIC_SERVER_ERRORS if status >= 500 else c.METRIC_CLIENT_ERRORS
        metrics.add_metric(name=total, unit=MetricUnit.Count, value=1)
    if load_failure:
        metrics.add_metric(name=c.METRIC_MODEL_LOAD_ERRORS, unit=MetricUnit.Count, value=1)
    with single_metric(
        name=c.METRIC_ERRORS,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name=c.DIMENSION_ERROR_CLASS, value=error_class)


def record_init_load_failure(model_name: str, error_class: str) -> None:
    """Emit ModelLoadErrors right away when the model fails to load at init (no invocation to flush)."""
    with single_metric(
        name=c.METRIC_MODEL_LOAD_ERRORS,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions={
            c.DIMENSION_MODEL: model_name or "unknown",
            c.DIMENSION_FUNCTION_VERSION: function_version(None),
        },
    ) as metric:
        metric.add_dimension(name=c.DIMENSION_ERROR_CLASS, value=error_class)
