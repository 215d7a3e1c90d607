"""Exceptions -> HTTP status and client body, in one place; also logs and counts every error.

The body is always `{"error": <class>, "message": <text>, "request_id": <Lambda request id>}`.
Request errors return their own message (written by the runtime, safe by construction); known server
errors return a fixed message; anything unexpected is `InternalError`, 500, logged with its traceback.
No traceback, path or exception text ever reaches the client.
"""

from __future__ import annotations

from typing import Any

from fnkit_runtime import observability
from fnkit_runtime.exceptions import (
    BodyTooLargeError,
    ConfigError,
    MethodNotAllowedError,
    ModelLoadError,
    ModelNotFoundError,
    ModelOutputError,
    RequestError,
    RouteNotFoundError,
)
from fnkit_runtime.records import record

STATUS_BY_CLASS: dict[type[Exception], int] = {
    BodyTooLargeError: 413,
    RouteNotFoundError: 404,
    ModelNotFoundError: 404,
    MethodNotAllowedError: 405,
    RequestError: 400,
    ModelLoadError: 500,
    ConfigError: 500,
    ModelOutputError: 500,
}
"""Looked up along the exception's MRO; a subclass takes its base's status unless listed."""

SERVER_MESSAGES: dict[type[Exception], str] = {
    ModelLoadError: "the model could not be loaded; the function's logs hold the cause",
    ConfigError: "the function is misconfigured; the function's logs hold the cause",
    ModelOutputError: "the model produced an output the function will not return",
}
INTERNAL_ERROR = "InternalError"
INTERNAL_MESSAGE = "an unexpected error occurred; quote the request id when reporting it"


@record
class ErrorReply:
    status: int
    body: dict[str, Any]


def status_for(exc: BaseException) -> int:
    for klass in type(exc).__mro__:
        status = STATUS_BY_CLASS.get(klass)
        if status is not None:
            return status
    return 500


def _known(exc: BaseException) -> type[Exception] | None:
    for klass in type(exc).__mro__:
        if klass in STATUS_BY_CLASS:
            return klass
    return None


def error_reply(exc: BaseException, request_id: str) -> ErrorReply:
    """The client's view of `exc`; logs it and counts it (metrics) as a side effect."""
    status = status_for(exc)
    known = _known(exc)
    if isinstance(exc, RequestError):
        name, message = type(exc).__name__, str(exc)
        extra: dict[str, Any] = {"error": name, "status": status, "reason": message}
        if exc.__cause__ is not None:
            extra["cause"] = repr(exc.__cause__)
        observability.logger.info("request rejected", extra=extra)
    elif known is not None:
        name, message = type(exc).__name__, SERVER_MESSAGES[known]
        observability.logger.error(
            "request failed", extra={"error": name, "status": status, "reason": str(exc)}, exc_info=exc
        )
    else:
        name, message = INTERNAL_ERROR, INTERNAL_MESSAGE
        observability.logger.exception("unexpected error", exc_info=exc)
    observability.record_error(name, status, load_failure=isinstance(exc, ModelLoadError))
    return ErrorReply(status=status, body={"error": name, "message": message, "request_id": request_id})
