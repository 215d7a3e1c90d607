"""Runtime exceptions. HTTP statuses for request errors are assigned in one place (the handler)."""

from __future__ import annotations


class FnkitRuntimeError(Exception):
    """Base class for errors raised by the function's runtime."""


class ManifestError(FnkitRuntimeError):
    """The manifest or the artifact it describes is missing, malformed or does not match."""
