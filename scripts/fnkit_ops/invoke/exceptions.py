"""Local-runtime exceptions; exit codes come from their bases in `fnkit_ops.cli`."""

from __future__ import annotations

from fnkit_ops.exceptions import EventFileError, OpsError, UsageError

__all__ = [
    "DependencyInstallError",
    "EventFileError",
    "FunctionInitError",
    "ModelNotBuiltError",
    "RuntimeApiError",
    "TaskRootError",
]


class ModelNotBuiltError(UsageError):
    """The model has no built artifact and manifest in the artifacts folder; exit code 2."""


class TaskRootError(UsageError):
    """The task root cannot be assembled in the given folder (not ours, or inconsistent inputs)."""


class DependencyInstallError(OpsError):
    """`pip install --target` of the function's requirements failed; exit code 1."""


class FunctionInitError(OpsError):
    """The function failed during init (import error, init error posted, or the process died)."""


class RuntimeApiError(OpsError):
    """The local Runtime API could not serve the function (timeout, protocol misuse)."""


class EmulatorUnavailableError(UsageError):
    """AWS's Runtime Interface Emulator cannot be had (offline with no cached binary, or no CPU emulation)."""


class EmulatorError(OpsError):
    """The Runtime Interface Emulator did not start or did not answer."""
