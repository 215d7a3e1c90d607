"""Benchmark exceptions; exit codes come from their bases in `fnkit_ops.cli`."""

from __future__ import annotations

from fnkit_ops.exceptions import OpsError, UsageError


class BenchError(OpsError):
    """A benchmark step failed (a variant did not run, answer or report); exit code 1."""


class PriceTableError(UsageError):
    """The price table is missing, unreadable or lacks a field; exit code 2."""


class BenchConfigError(UsageError):
    """The benchmark's arguments or inputs are unusable (unknown model, missing artifact); exit code 2."""


class RegistryEditError(UsageError):
    """The registry file could not be updated with the recommended memory size; exit code 2."""
