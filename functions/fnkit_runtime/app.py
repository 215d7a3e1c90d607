"""The Lambda handler: `fnkit_runtime.app.handler`, one for any built model.

The model comes from FNKIT_MODEL_NAME and the manifest in FNKIT_MODEL_DIR (default
`$LAMBDA_TASK_ROOT/model`). Accepted events:

- API Gateway REST (payload 1.0), HTTP API (2.0), Function URL -> powertools resolvers (`routes`);
  the answer is the proxy response `{statusCode, headers, body}`.
- Direct invocation `{"inputs": ...}` -> the response body dict itself; on error the error body
  `{error, message, request_id}` plus `status` (the HTTP status the same error gets through an API).
- Warm-up: an EventBridge "Scheduled Event" or `{"warmup": true}` -> loads the model, answers
  `{"warmup": true, model, model_version, function_version}`; not counted as a prediction.

Under a Lambda runtime the model starts loading at import, in a background thread, before the
other imports (FNKIT_PREFETCH, default on): the session's creation overlaps the rest of the init, and
the first invocation that needs the model waits for it (a failure is that invocation's 500, as
without it). FNKIT_LOAD_AT_INIT=true instead loads the model during the import itself (provisioned
concurrency, SnapStart); a failure there is an init error, after emitting ModelLoadErrors. Under SnapStart
(AWS_LAMBDA_INITIALIZATION_TYPE=snap-start) the runtime hooks of `fnkit_runtime.snapstart` are
registered too.

Cold start: the direct and warm-up paths import no part of powertools' event handler. Its package
`__init__` imports every resolver (AppSync and asyncio included), so `fnkit_runtime.routes` is
imported on the first API event only (see docs/performance.md, "Where the cold start goes").
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fnkit_runtime.config import load_at_init_requested, prefetch_requested
from fnkit_runtime.session import holder

if prefetch_requested():
    holder.prefetch()  # first: powertools' and the other imports below overlap the session's creation

from fnkit_runtime import constants as c
from fnkit_runtime import error_responses, observability
from fnkit_runtime.event_kinds import EventKind, check_proxy_event, classify
from fnkit_runtime.exceptions import EventFormatError
from fnkit_runtime.predict import predict
from fnkit_runtime.validation import check_body, check_parsed_body_size

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = observability.logger
metrics = observability.metrics

_API_KINDS = frozenset({EventKind.REST_API, EventKind.HTTP_API, EventKind.FUNCTION_URL})


def _api_error(reply: error_responses.ErrorReply) -> dict[str, Any]:
    """The proxy response for an event powertools cannot read (valid for payload 1.0 and 2.0)."""
    return {
        "statusCode": reply.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(reply.body),
        "isBase64Encoded": False,
    }


def _resolve(kind: EventKind, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    check_proxy_event(kind, event)
    request_id = event["requestContext"].get("requestId")
    if isinstance(request_id, str):
        logger.set_correlation_id(request_id)
    from fnkit_runtime.routes import resolver  # on the first API event only: see the module docstring

    return resolver(kind).resolve(event, context)


def _warmup(context: LambdaContext) -> dict[str, Any]:
    observability.mark_probe()
    model = holder.model()
    observability.record_warmup()
    return {
        "warmup": True,
        "model": model.manifest.model,
        "model_version": model.manifest.model_version,
        "function_version": observability.function_version(context),
    }


def _direct(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    body = check_body(dict(event))
    model = holder.model()
    check_parsed_body_size(body, model.limits)
    return predict(model, body, observability.function_version(context))


def _dispatch(kind: EventKind, event: Any, context: LambdaContext) -> dict[str, Any]:
    if kind in _API_KINDS:
        return _resolve(kind, event, context)
    if kind is EventKind.WARMUP:
        return _warmup(context)
    if kind is EventKind.DIRECT:
        return _direct(event, context)
    raise EventFormatError(
        'unsupported event: send an API Gateway or Function URL request, {"inputs": ...} or a warm-up'
    )


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def _instrumented(event: Any, context: LambdaContext) -> dict[str, Any]:
    kind = EventKind.UNKNOWN
    try:
        kind = classify(event)
        return _dispatch(kind, event, context)
    except Exception as exc:
        reply = error_responses.error_reply(exc, str(getattr(context, "aws_request_id", "") or ""))
        return _api_error(reply) if kind in _API_KINDS else {**reply.body, "status": reply.status}
    finally:
        observability.end_invocation()


def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point."""
    observability.begin_invocation(
        os.environ.get(c.MODEL_NAME_ENV, ""), observability.function_version(context)
    )
    result: dict[str, Any] = _instrumented(event, context)
    return result


def _load_at_init() -> None:
    try:
        holder.model()
    except Exception as exc:
        logger.exception("model failed to load at init")
        observability.record_init_load_failure(os.environ.get(c.MODEL_NAME_ENV, ""), type(exc).__name__)
        raise


if load_at_init_requested():
    _load_at_init()
    if os.environ.get(c.INITIALIZATION_TYPE_ENV) == c.INIT_TYPE_SNAP_START:
        from fnkit_runtime import snapstart

        snapstart.register()
