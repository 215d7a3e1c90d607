"""Defaults of the local runtime: handler, runtime client pin, Lambda-like environment, cache."""

from __future__ import annotations

from typing import Final

HANDLER: Final = "fnkit_runtime.app.handler"
"""The image's CMD: one handler for every model."""
RUNTIME_PACKAGE: Final = "fnkit_runtime"
"""The handler package copied from `functions/` into every task root."""
RUNTIME_CLIENT_REQUIREMENT: Final = "awslambdaric==4.2.2"
"""The AWS base image ships the runtime interface client; the local task root adds it."""
REQUIREMENTS_FILE: Final = "requirements.txt"
REQUIREMENTS_TEXT_FILE: Final = "requirements-text.txt"
TRIM_SCRIPT: Final = "trim.py"
"""`functions/trim.py`: the trim list both the Dockerfiles and the local task root apply."""

CACHE_DIR_ENV: Final = "FNKIT_CACHE_DIR"
"""Where dependency layers are cached. Default: `<repo>/.fnkit-cache`."""
CACHE_SUBDIR: Final = "deps"
TASK_ROOT_MARKER: Final = ".fnkit-task-root"
"""Written into every assembled task root, so a re-assembly only ever clears a folder it made."""

RUNTIME_API_VERSION: Final = "2018-06-01"
DEFAULT_REGION: Final = "us-east-1"
DEFAULT_FUNCTION_VERSION: Final = "$LATEST"
DEFAULT_TIMEOUT_S: Final = 30.0
"""Per-invocation timeout, as the template's function Timeout."""
DEFAULT_INIT_TIMEOUT_S: Final = 120.0
"""Guard against a hung init; Lambda's own init limit (10 s) is not simulated."""
ACCOUNT_ID: Final = "123456789012"
