"""Every environment-variable name the kit reads, in one place.

The template (`template.yaml`), the Dockerfiles, the local runtime (`fnkit invoke`) and the docs use
these names; nothing else spells them out.
"""

from __future__ import annotations

# --- set by fnkit (template.yaml / Dockerfile / fnkit invoke) ---------------------------------
MODEL_NAME_ENV = "FNKIT_MODEL_NAME"
"""Name of the model this function serves; must equal the manifest's `model`."""
MODEL_DIR_ENV = "FNKIT_MODEL_DIR"
"""Folder holding manifest.json and the artifact. Default: `$LAMBDA_TASK_ROOT/model`."""
LOAD_AT_INIT_ENV = "FNKIT_LOAD_AT_INIT"
"""`true`: create the session at import time (for provisioned concurrency). Default: lazy."""
PREFETCH_ENV = "FNKIT_PREFETCH"
"""Under a Lambda runtime, the model loads in a background thread from import on, overlapping the
rest of the init; the first invocation that needs it waits for it. `false`: load on first use only.
Default: true. Ignored with FNKIT_LOAD_AT_INIT (the load then completes during the init)."""
PROFILE_ENV = "FNKIT_PROFILE"
"""`true`: run onnxruntime's profiler for each invocation and log the slowest operators."""
INTRA_OP_THREADS_ENV = "FNKIT_INTRA_OP_THREADS"
"""Override the intra-op thread count derived from the function's memory size."""
MAX_BATCH_ENV = "FNKIT_MAX_BATCH"
"""Override the manifest's largest accepted batch."""
MAX_BODY_BYTES_ENV = "FNKIT_MAX_BODY_BYTES"
"""Override the largest accepted request body, in bytes."""
MAX_TEXT_CHARS_ENV = "FNKIT_MAX_TEXT_CHARS"
"""Override the longest accepted string, in characters (text models)."""
ALLOW_ONNXRUNTIME_MISMATCH_ENV = "FNKIT_ALLOW_ONNXRUNTIME_MISMATCH"
"""`true`: serve an artifact built with another onnxruntime version than the installed one. Default:
refused (a ModelLoadError): the build's gate and golden outputs were measured with the recorded one."""

# --- read by aws-lambda-powertools (set in template.yaml) --------------------------------------
SERVICE_NAME_ENV = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
LOG_LEVEL_ENV = "POWERTOOLS_LOG_LEVEL"

# --- set by Lambda itself ----------------------------------------------------------------------
TASK_ROOT_ENV = "LAMBDA_TASK_ROOT"
MEMORY_SIZE_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
FUNCTION_VERSION_ENV = "AWS_LAMBDA_FUNCTION_VERSION"
FUNCTION_NAME_ENV = "AWS_LAMBDA_FUNCTION_NAME"
RUNTIME_API_ENV = "AWS_LAMBDA_RUNTIME_API"
"""The Runtime API's host:port: set wherever a runtime client serves the function (Lambda, the RIE,
`fnkit invoke`), never in-process tests."""
INITIALIZATION_TYPE_ENV = "AWS_LAMBDA_INITIALIZATION_TYPE"
"""`on-demand`, `provisioned-concurrency` or `snap-start` (then awslambdaric runs the SnapStart hooks)."""
INIT_TYPE_SNAP_START = "snap-start"

# --- defaults ----------------------------------------------------------------------------------
DEFAULT_NAMESPACE = "fnkit"
# The model folder's and files' names and Lambda's limits are the contract's: `fnkit_runtime.vocabulary`.

# --- routes (powertools event handler syntax; README documents them) ---------------------------
PREDICT_PATHS = ("/predict", "/<model>/predict")
"""POST: run the model. `<model>` must be the served model's name (else 404)."""
HEALTH_PATHS = ("/health", "/<model>/health")
"""GET: the public part of the manifest plus the function version."""
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

# --- metrics (EMF through powertools Metrics) --------------------------------------------------
METRIC_MODEL_LOAD_TIME = "ModelLoadTime"
METRIC_MODEL_LOAD_ERRORS = "ModelLoadErrors"
METRIC_INFERENCE_TIME = "InferenceTime"
METRIC_BATCH_SIZE = "BatchSize"
METRIC_WARMUPS = "WarmUps"
METRIC_RESTORES = "SnapStartRestores"
"""1 on the first invocation of an environment restored from a SnapStart snapshot (powertools'
ColdStart counts it too: ColdStart - SnapStartRestores = on-demand inits)."""
METRIC_REQUESTS = "Requests"
"""One per invocation that is not a health check or warm-up (answered or failed): the denominator of
the client and server error shares a canary is judged on."""
METRIC_CLIENT_ERRORS = "ClientErrors"
"""4xx answers to requests (health checks and warm-ups not counted)."""
METRIC_SERVER_ERRORS = "ServerErrors"
"""5xx answers to requests (health checks and warm-ups not counted)."""
METRIC_ERRORS = "Errors"
"""Per error class, in its own EMF document (dimension `error_class`), so the class never splits the
main document's metrics."""
DIMENSION_MODEL = "model"
DIMENSION_FUNCTION_VERSION = "function_version"
DIMENSION_ERROR_CLASS = "error_class"
DEFAULT_FUNCTION_VERSION = "$LATEST"

# --- profiling ---------------------------------------------------------------------------------
PROFILE_TOP_OPERATORS = 10
"""How many of the slowest operators a profiled invocation logs."""

# --- set by the runtime itself, before numpy is imported (fnkit_runtime/__init__.py) -------------
OPENBLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"
"""Defaults to 1 in the function: OpenBLAS's per-core thread start-up costs cold-start time."""
