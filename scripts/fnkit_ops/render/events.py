"""`events/<model>-<type>.json`: the Lambda events `sam local invoke -e`, `fnkit invoke` and the tests use.

Shapes are those `sam local generate-event` writes for API Gateway REST (v1), HTTP API (v2), a
Function URL, an EventBridge schedule (the warm-up), plus the direct invocation (the body itself).
The request body is the manifest's golden request with the largest batch when the model is built,
else the committed one while the function accepts it, else a valid one made from the registry's
signature (zeros of the declared shape; a short text for text models).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fnkit_build.registry import ModelSpec
from fnkit_runtime import constants as c
from fnkit_runtime.manifest import TensorSpec

from fnkit_ops.events import EVENT_TYPES

_SAMPLE_TEXT = "fnkit renders this request from the registry's signature."
_API_ID = "r3pmxmplak"
_URL_ID = "abcdefghijklmnopqrstuvwxyz012345"
_TIME = {"time": "10/Mar/2020:05:16:23 +0000", "timeEpoch": 1583817383220}
_REST_HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate, sdch",
    "Content-Type": "application/json",
    "Host": "1234567890.execute-api.us-east-1.amazonaws.com",
    "User-Agent": "Custom User Agent String",
    "Via": "1.1 08f323deadbeefa7af34d5feb414ce27.cloudfront.net (CloudFront)",
    "X-Amz-Cf-Id": "cDehVQoZnx43VYQb9j2-nvCh-9z396Uhbp027Y2JvkCPNLmGJHqlaA==",
    "X-Forwarded-For": "127.0.0.1, 127.0.0.2",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
}


def _zeros(tensor: TensorSpec) -> Any:
    """A batch of one: dynamic axes of size 2 (1 for the batch), fixed axes as declared."""
    value: Any = {"bool": False}.get(tensor.dtype, 0.0 if tensor.dtype.startswith("float") else 0)
    for axis in reversed(range(1, len(tensor.shape))):
        dim = tensor.shape[axis]
        value = [value] * (dim if isinstance(dim, int) else 2)
    return [value]


def signature_request(spec: ModelSpec) -> dict[str, Any]:
    """A request every function of this signature accepts."""
    if spec.text is not None:
        return {"inputs": [_SAMPLE_TEXT]}
    if len(spec.inputs) == 1:
        return {"inputs": _zeros(spec.inputs[0])}
    return {"inputs": {tensor.name: _zeros(tensor) for tensor in spec.inputs}}


def _body(request: Mapping[str, Any]) -> str:
    return json.dumps(request, separators=(",", ":"), ensure_ascii=False)


def _v2_headers(body: str) -> dict[str, str]:
    return {
        "accept": "application/json",
        "content-length": str(len(body.encode("utf-8"))),
        "content-type": "application/json",
        "host": f"{_API_ID}.execute-api.us-east-1.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e",
        "x-forwarded-for": "205.255.255.176",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }


def _http_api(method: str, path: str, body: str | None) -> dict[str, Any]:
    route = f"{method} {path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": _v2_headers(body or ""),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": _API_ID,
            "domainName": f"{_API_ID}.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": _API_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "205.255.255.176",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": route,
            "stage": "$default",
            **_TIME,
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    event.update({"pathParameters": None, "stageVariables": None})
    return event


def _function_url(body: str) -> dict[str, Any]:
    path = c.PREDICT_PATHS[0]
    headers = {**_v2_headers(body), "host": f"{_URL_ID}.lambda-url.us-east-1.on.aws"}
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": _URL_ID,
            "domainName": f"{_URL_ID}.lambda-url.us-east-1.on.aws",
            "domainPrefix": _URL_ID,
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "205.255.255.176",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "stage": "$default",
            **_TIME,
            "routeKey": "$default",
        },
        "isBase64Encoded": False,
        "body": body,
        "routeKey": "$default",
    }


def _rest_api(model: str, path: str, body: str) -> dict[str, Any]:
    resource = path.replace(f"/{model}/", "/{model}/")
    return {
        "body": body,
        "resource": resource,
        "path": path,
        "httpMethod": "POST",
        "isBase64Encoded": False,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"model": model},
        "stageVariables": None,
        "headers": dict(_REST_HEADERS),
        "multiValueHeaders": {name: [value] for name, value in _REST_HEADERS.items()},
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "123456",
            "stage": "Prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": "09/Apr/2015:12:34:56 +0000",
            "requestTimeEpoch": 1428582896000,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "accessKey": None,
                "sourceIp": "127.0.0.1",
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": "Custom User Agent String",
                "user": None,
            },
            "path": f"/Prod{path}",
            "resourcePath": resource,
            "httpMethod": "POST",
            "apiId": "1234567890",
            "protocol": "HTTP/1.1",
        },
    }


def _warmup(model: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2015-10-08T16:53:06Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/fnkit-{model}-warmup"],
        "detail": {},
    }


def model_events(spec: ModelSpec, request: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Event type -> event for one model, every type of EVENT_TYPES, with `request` as the body."""
    model = spec.name
    predict = next(p for p in c.PREDICT_PATHS if "<model>" in p).replace("<model>", model)
    health = next(p for p in c.HEALTH_PATHS if "<model>" in p).replace("<model>", model)
    body = _body(request)
    events = {
        "rest-api": _rest_api(model, predict, body),
        "http-api": _http_api("POST", predict, body),
        "function-url": _function_url(body),
        "direct": dict(request),
        "warmup": _warmup(model),
        "health": _http_api("GET", health, None),
    }
    assert tuple(events) == EVENT_TYPES
    return events


def event_text(event: Mapping[str, Any]) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def request_of(event: Mapping[str, Any], event_type: str) -> Any:
    """The request body an event of this type carries (None for warm-up and health)."""
    if event_type == "direct":
        return dict(event)
    if event_type in ("rest-api", "http-api", "function-url") and isinstance(event.get("body"), str):
        try:
            return json.loads(event["body"])
        except ValueError:
            return None
    return None
