"""Operations exceptions (invoke, bench, promote); exit codes are assigned in `fnkit_ops.cli`."""

from __future__ import annotations


class OpsError(Exception):
    """Base class for errors of the operations commands; exit code 1."""


class UsageError(OpsError):
    """Bad arguments or an unmet precondition; nothing was changed; exit code 2."""


class EventFileError(UsageError):
    """An event file is missing or is not JSON; exit code 2."""
