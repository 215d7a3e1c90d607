"""Defaults of the local runtime: handler, runtime client pin, Lambda-like environment, cache."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from fnkit_build import project
from fnkit_runtime.vocabulary import API_TIMEOUT_S


class Emulator(StrEnum):
    """What serves the Runtime API to awslambdaric in `fnkit invoke`."""

    RIE = "rie"
    """AWS's Runtime Interface Emulator, as `sam local invoke` runs it in the container."""
    FNKIT = "fnkit"
    """fnkit's own Runtime API: also peak RSS, the cold/warm split (what the RIE does not report)."""


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

CACHE_DIR_ENV: Final = project.CACHE_DIR_ENV
"""Where dependency layers are cached. Default: `<repo>/.fnkit-cache`."""
CACHE_SUBDIR: Final = "deps"
TASK_ROOT_MARKER: Final = ".fnkit-task-root"
"""Written into every assembled task root, so a re-assembly only ever clears a folder it made."""

RUNTIME_API_VERSION: Final = "2018-06-01"
DEFAULT_REGION: Final = "us-east-1"
DEFAULT_TIMEOUT_S: Final = float(API_TIMEOUT_S)
"""Per-invocation timeout, as the template's function Timeout."""
DEFAULT_INIT_TIMEOUT_S: Final = 120.0
"""Guard against a hung init; Lambda's own init limit (10 s) is not simulated."""
ACCOUNT_ID: Final = "123456789012"

# AWS's Runtime Interface Emulator: the binary `sam local invoke` runs inside the container, taken
# from the SAM CLI's wheel (downloaded, never installed: its click pin conflicts with the build set).
SAM_CLI_REQUIREMENT: Final = "aws-sam-cli==1.170.0"
SAM_CLI_WHEEL_SHA256: Final = "24ebaf5ecba38dc1758089968cb89ab61e124b84e92a344fc7a2771a47f4d0bf"
"""pip checks the downloaded wheel against this (--require-hashes)."""
RIE_MEMBER: Final = "samcli/local/rapid/aws-lambda-rie-{arch}"
"""The emulator's path inside the wheel, per Lambda architecture (x86_64, arm64)."""
RIE_SHA256: Final = {
    "x86_64": "6b1e686e62ab2baf5759c412c4864276ef2a88b094fca53ec070637ccba9b9a5",
    "arm64": "ec2e5d09633d853834c008b1ef264bf834b258a94d551d2b2074966494b39a21",
}
"""sha256 of each emulator binary in that wheel; a cached binary is checked against it before use."""
RIE_CACHE_SUBDIR: Final = "rie"
RIE_INVOKE_PATH: Final = "/2015-03-31/functions/function/invocations"
RIE_START_TIMEOUT_S: Final = 10.0
"""How long the emulator may take to listen on its port."""
RIE_REPORT_WAIT_S: Final = 2.0
"""How long to wait, after a response, for the emulator's REPORT line of that invocation."""
RIE_PORT_ATTEMPTS: Final = 5
"""Ports tried when the chosen one turns out to be taken between choosing and binding."""
BEFORE_SNAPSHOT_ERROR: Final = "Runtime.BeforeSnapshotError"
"""The error type awslambdaric posts to /init/error when a before-snapshot hook raises."""
