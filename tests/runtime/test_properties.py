"""Property tests: thousands of malformed events and bodies; every answer is well-formed, none leaks.

Invariants, for any input: the handler returns (never raises); the answer is never a 5xx; an error is
`{error, message, request_id}` (plus `status` on direct invocation) with a 4xx status, our request id,
one of the runtime's request-error classes, and a message free of tracebacks, paths and exception
reprs. Inputs that are malformed by construction must get a 4xx; mutated real events may still be valid
(then the answer must be a well-formed success).

The default run uses ~1,700 examples in total; `-m slow` runs the same properties with 10x more.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any

import numpy as np
import pytest
from fnkit_ops.events import EVENT_TYPES, load_event
from fnkit_runtime import exceptions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REQUEST_ERRORS = {
    name
    for name, klass in vars(exceptions).items()
    if isinstance(klass, type) and issubclass(klass, exceptions.RequestError)
}
LEAKS = re.compile(
    r"Traceback|File \"|/work|/var/task|site-packages|\.py\b|0x[0-9a-f]{6,}|"
    r"\b(Key|Type|Value|Attribute|Index|Recursion|UnicodeDecode|Overflow|Memory|Runtime)Error\b|"
    r"numpy|onnxruntime|powertools|binascii",
)
API_TYPES = ("rest-api", "http-api", "function-url")
SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
SLOW_FACTOR = 10

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters() | st.characters(categories=["Cs"]), max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def _wrong_shape(shape: tuple[int, ...]) -> bool:
    return not (len(shape) == 4 and shape[1:] == (1, 8, 8) and 1 <= shape[0] <= 64)


tensor_shapes = st.lists(st.integers(0, 9), min_size=0, max_size=5).map(tuple).filter(_wrong_shape)


@st.composite
def wrong_tensors(draw: st.DrawFn) -> Any:
    shape = draw(tensor_shapes)
    value = np.zeros(shape, dtype=np.float32).tolist() if shape else 0.0
    if draw(st.booleans()):
        return value
    buffer = __import__("io").BytesIO()
    np.save(buffer, np.zeros(shape, dtype=draw(st.sampled_from(["<f4", "<i8", "|b1", "<f8", "<U3", "<c8"]))))
    data = buffer.getvalue()
    cut = draw(st.integers(0, len(data)))
    return {"npy": base64.b64encode(data[:cut] if draw(st.booleans()) else data).decode()}


digits_bodies = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.builds(lambda v: json.dumps({"inputs": v}), json_values),
    st.builds(
        lambda v, extra: json.dumps({"inputs": v, **extra}),
        json_values,
        st.dictionaries(
            st.text(min_size=1, max_size=5).filter(lambda k: k != "inputs"),
            json_scalars,
            min_size=1,
            max_size=3,
        ),
    ),
    st.builds(lambda v: json.dumps({"inputs": v}), wrong_tensors()),
    st.builds(lambda v: json.dumps({"inputs": {"pixels": v}}), wrong_tensors()),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
)


def _check(answer: Any, request_id: str, *, proxy: bool, must_fail: bool) -> None:
    """Assert the invariants on one answer."""
    if proxy:
        assert isinstance(answer, dict) and isinstance(answer.get("statusCode"), int), answer
        status = answer["statusCode"]
        body = json.loads(answer["body"])
    else:
        assert isinstance(answer, dict), answer
        body = answer
        status = answer.get("status", 200)
    assert isinstance(body, dict)
    if status == 200 and not must_fail:
        assert "model_version" in body, body
        return
    assert 400 <= status < 500, (status, body)
    expected_keys = {"error", "message", "request_id"} | (set() if proxy else {"status"})
    assert set(body) == expected_keys, body
    assert body["request_id"] == request_id
    assert body["error"] in REQUEST_ERRORS, body
    assert isinstance(body["message"], str) and body["message"]
    assert not LEAKS.search(body["message"]), body["message"]


def _post(kind: str, model: str, body: str, *, base64_flag: bool) -> dict[str, Any]:
    event = load_event(f"{model}-{kind}")
    if base64_flag:
        event["body"] = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
        event["isBase64Encoded"] = True
    else:
        event["body"] = body
    return event


# --- strategies over whole events ---------------------------------------------------------------
@st.composite
def mutated_events(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A real event with one field (at any depth) replaced by arbitrary JSON or deleted."""
    event_type = draw(st.sampled_from(EVENT_TYPES))
    event = copy.deepcopy(load_event(f"digits-{event_type}"))
    for _ in range(draw(st.integers(1, 3))):
        target: Any = event
        while isinstance(target, dict) and target and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(target)))
            if not isinstance(target[key], dict) or not target[key]:
                break
            target = target[key]
        if not isinstance(target, dict) or not target:
            continue
        key = draw(st.sampled_from(sorted(target)))
        if draw(st.booleans()):
            del target[key]
        else:
            target[key] = draw(json_values)
    return event_type, event


def _is_proxy(event: Any) -> bool:
    from fnkit_runtime.event_kinds import EventKind, classify

    return classify(event) in {EventKind.REST_API, EventKind.HTTP_API, EventKind.FUNCTION_URL}


# --- the properties (run by the default and the slow tests) -----------------------------------------
def _digits_bodies_property(harness: Any, max_examples: int) -> None:
    @settings(max_examples=max_examples, **SETTINGS)
    @given(body=digits_bodies, kind=st.sampled_from(API_TYPES), base64_flag=st.booleans())
    def check(body: str, kind: str, base64_flag: bool) -> None:
        answer = harness.invoke(_post(kind, "digits", body, base64_flag=base64_flag))
        _check(answer, harness.context.aws_request_id, proxy=True, must_fail=True)

    check()


def _text_bodies_property(harness: Any, max_examples: int) -> None:
    @settings(max_examples=max_examples, **SETTINGS)
    @given(inputs=json_values, kind=st.sampled_from([*API_TYPES, "direct"]))
    def check(inputs: Any, kind: str) -> None:
        body = {"inputs": inputs}
        if kind == "direct":
            answer = harness.invoke(body)
            _check(answer, harness.context.aws_request_id, proxy=False, must_fail=False)
            return
        answer = harness.invoke(_post(kind, "minilm", json.dumps(body), base64_flag=False))
        _check(answer, harness.context.aws_request_id, proxy=True, must_fail=False)

    check()


def _mutated_events_property(harness: Any, max_examples: int) -> None:
    @settings(max_examples=max_examples, **SETTINGS)
    @given(case=mutated_events())
    def check(case: tuple[str, dict[str, Any]]) -> None:
        _, event = case
        answer = harness.invoke(event)
        _check(answer, harness.context.aws_request_id, proxy=_is_proxy(event), must_fail=False)

    check()


def _random_events_property(harness: Any, max_examples: int) -> None:
    @settings(max_examples=max_examples, **SETTINGS)
    @given(event=json_values)
    def check(event: Any) -> None:
        answer = harness.invoke(event)
        must_fail = not (isinstance(event, dict) and event.get("warmup") is True)
        _check(answer, harness.context.aws_request_id, proxy=_is_proxy(event), must_fail=must_fail)

    check()


PROPERTIES = [
    pytest.param("digits", _digits_bodies_property, 600, id="digits-bodies"),
    pytest.param("minilm", _text_bodies_property, 300, id="text-bodies"),
    pytest.param("digits", _mutated_events_property, 500, id="mutated-events"),
    pytest.param("digits", _random_events_property, 300, id="random-events"),
]


@pytest.mark.parametrize(("model", "prop", "examples"), PROPERTIES)
def test_malformed_input_gets_a_well_formed_answer(harness, serve, model, prop, examples):
    # GIVEN the function serving the model (loaded once for all examples)
    serve(model)
    harness.invoke({"warmup": True})

    # WHEN hypothesis throws malformed events/bodies at it / THEN every answer keeps the invariants
    prop(harness, examples)


@pytest.mark.slow
@pytest.mark.parametrize(("model", "prop", "examples"), PROPERTIES)
def test_malformed_input_gets_a_well_formed_answer_many_examples(harness, serve, model, prop, examples):
    serve(model)
    harness.invoke({"warmup": True})
    prop(harness, examples * SLOW_FACTOR)
