"""SnapStart's runtime hooks: what goes into the snapshot, and what each restored environment resets.

Registered by `app` at init when Lambda creates the snapshot (`AWS_LAMBDA_INITIALIZATION_TYPE` is
`snap-start`, and SnapStart functions load the model at init: FNKIT_LOAD_AT_INIT). awslambdaric runs
the before-snapshot hooks once init is done, asks the Runtime API for `/restore/next` (Lambda takes the
snapshot and later resumes copies of it there), then runs the after-restore hooks in each copy.

- Before the snapshot: the manifest's golden samples run through the real prediction path once, and
  their outputs must match the manifest (as the build and the deploy smoke test require), so the
  session's lazy allocations are in the snapshot and a wrong model never becomes one. A mismatch or
  any error is logged and raised: awslambdaric reports it as `Runtime.BeforeSnapshotError` and Lambda
  fails the version's publication. The metrics those runs (and the model load) recorded are dropped:
  every restored copy would otherwise flush them as its own.
- After a restore: random state is reseeded from the OS (copies must not share it), and the next
  invocation counts `SnapStartRestores` (powertools' ColdStart counts it too). Never raises: a failure
  is logged, and the environment serves (the restore-error path would discard it).
"""

from __future__ import annotations

import random

import numpy as np
from snapshot_restore_py import register_after_restore, register_before_snapshot

from fnkit_runtime import observability
from fnkit_runtime.exceptions import SnapshotCheckError
from fnkit_runtime.golden_check import golden_mismatches
from fnkit_runtime.predict import predict
from fnkit_runtime.session import holder
from fnkit_runtime.validation import check_body

logger = observability.logger


def before_snapshot() -> None:
    """Load (if not yet), run every golden sample and check it, then drop what they measured."""
    try:
        model = holder.model()
        version = observability.function_version(None)
        for index, sample in enumerate(model.manifest.golden):
            answer = predict(model, check_body(dict(sample.request)), version)
            problems = golden_mismatches(sample, answer["outputs"])
            if problems:
                raise SnapshotCheckError(f"golden sample {index}: {'; '.join(problems)}")
    except Exception:
        logger.exception("before-snapshot hook failed: the version's publication fails")
        raise
    observability.metrics.clear_metrics()
    logger.info("snapshot ready", extra={"golden_samples": len(model.manifest.golden)})


def after_restore() -> None:
    """Reseed random state and mark the restore for the next invocation's metrics; never raises."""
    try:
        random.seed()
        np.random.seed()
        observability.mark_restored()
        logger.info("restored from a SnapStart snapshot", extra={"model_loaded": holder.loaded})
    except Exception:
        logger.exception("after-restore hook failed; serving anyway")


def register() -> None:
    """Register both hooks with snapshot_restore_py (awslambdaric runs them)."""
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
