"""Request validation against the manifest's signature and limits; every failure is a typed error."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from fnkit_runtime.exceptions import (
    BatchSizeError,
    BodyFormatError,
    BodyTooLargeError,
    InputShapeError,
    InputValueError,
    ModelOutputError,
)
from fnkit_runtime.manifest import Limits, TensorSpec

BODY_KEYS = frozenset({"inputs", "truncate"})
"""`truncate` (text models only, a boolean): cut items over the model's token limit instead of
refusing them."""


def body_bytes(body: Any) -> int:
    """A body's size as a client's compact UTF-8 JSON, as the API routes measure it (not \\uXXXX-escaped)."""
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def check_body_size(size: int, limits: Limits) -> None:
    """Reject a body larger than the limit; called before any JSON parsing."""
    if size > limits.max_body_bytes:
        raise BodyTooLargeError(f"the body is {size} bytes; the limit is {limits.max_body_bytes}")


_FLOAT_CHARS = 24
"""The longest JSON spelling of a float: its shortest repr, as '-2.2250738585072014e-308'."""
_BODY_FRAME_CHARS = len('{"inputs":,"truncate":false}')


def _numbers_bound(value: Any) -> int | None:
    """An upper bound of a nested list of numbers' compact JSON size; None for anything else.

    Lists are scanned row by row with C-speed `map`/`min`/`max`, not item by item: the bound costs
    a few microseconds where `json.dumps` of a float tensor costs one per float.
    """
    if type(value) is not list:
        return None
    if value and type(value[0]) is list:
        total = len(value) + 1  # brackets and commas
        for row in value:
            inner = _numbers_bound(row)
            if inner is None:
                return None
            total += inner
        return total
    kinds = set(map(type, value))
    if kinds <= {float, bool}:
        width = _FLOAT_CHARS  # NaN and Infinity are shorter
    elif kinds <= {int, bool}:  # no float: min and max are exact, and bound every item's digits
        width = max(len(repr(min(value))), len(repr(max(value))), len("false"))
    else:
        return None
    return 2 + len(value) * (width + 1)


def check_parsed_body_size(body: dict[str, Any], limits: Limits) -> None:
    """`check_body_size` for a body that arrives parsed (a direct invocation).

    Its exact size (`body_bytes`) is measured only when a cheap upper bound, taken for nested lists
    of numbers, exceeds the limit: the same bodies are refused, with the same message.
    """
    inputs = body["inputs"]
    bound: int | None = 2
    if isinstance(inputs, dict):
        for name, value in inputs.items():
            inner = _numbers_bound(value) if isinstance(name, str) else None
            bound = None if inner is None or bound is None else bound + inner + 6 * len(name) + 4
    else:
        bound = _numbers_bound(inputs)
    if bound is None or bound + _BODY_FRAME_CHARS > limits.max_body_bytes:
        check_body_size(body_bytes(body), limits)


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON body as an object holding exactly `inputs`."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BodyFormatError("the body is not valid UTF-8 JSON") from None
    return check_body(body)


def check_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BodyFormatError('the body must be a JSON object {"inputs": ...}')
    if "inputs" not in body:
        raise BodyFormatError('the body has no "inputs"')
    if set(body) - BODY_KEYS:
        raise BodyFormatError(f"the body may only hold {sorted(BODY_KEYS)}; it has {len(body)} keys")
    if "truncate" in body and not isinstance(body["truncate"], bool):
        raise BodyFormatError('"truncate" must be true or false')
    return body


def _check_shape(array: np.ndarray, spec: TensorSpec, named: dict[str, int]) -> None:
    if array.ndim != spec.rank:
        raise InputShapeError(f"input {spec.name!r} has rank {array.ndim}; expected {spec.rank} {spec.shape}")
    for axis, (size, dim) in enumerate(zip(array.shape, spec.shape, strict=True)):
        if isinstance(dim, int):
            if size != dim:
                raise InputShapeError(
                    f"input {spec.name!r} has size {size} on axis {axis}; expected {dim} {spec.shape}"
                )
            continue
        if size < 1:
            raise InputShapeError(f"input {spec.name!r} has an empty axis {axis} ({dim})")
        seen = named.setdefault(dim, size)
        if seen != size:
            raise InputShapeError(f"axis {dim!r} has size {size} in input {spec.name!r} but {seen} elsewhere")


def batch_size(arrays: Mapping[str, np.ndarray], specs: list[TensorSpec]) -> int:
    """The batch: the size of axis 0 (the signature's first axis is the batch)."""
    first = arrays[specs[0].name]
    return int(first.shape[0]) if first.ndim else 1


def check_batch(size: int, limits: Limits) -> None:
    if size < 1:
        raise BatchSizeError("the batch is empty")
    if size > limits.max_batch:
        raise BatchSizeError(f"the batch has {size} items; the limit is {limits.max_batch}")


def validate_tensors(arrays: Mapping[str, np.ndarray], specs: list[TensorSpec], limits: Limits) -> int:
    """Check rank, fixed and named dims, batch limit and NaN/inf policy; return the batch size."""
    named: dict[str, int] = {}
    for spec in specs:
        _check_shape(arrays[spec.name], spec, named)
    size = batch_size(arrays, specs)
    check_batch(size, limits)
    if not limits.allow_non_finite:
        for spec in specs:
            array = arrays[spec.name]
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise InputValueError(f"input {spec.name!r} holds NaN or infinite values (or overflows)")
    return size


def check_outputs(outputs: Mapping[str, np.ndarray], specs: list[TensorSpec], batch: int) -> None:
    """Never return a wrong-shaped or non-JSON answer: outputs must be finite and batch-first.

    A wrong shape is the model's fault (500). Non-finite outputs come from the input values: the
    model passed the build's gate on real data, so finite but extreme values (1e38 on an fp32 graph)
    or NaN allowed by `allow_non_finite` overflow it. That is the client's to fix (400), and must not
    count as a server error, which a canary's alarms would read as a bad deploy.
    """
    for spec in specs:
        array = outputs[spec.name]
        batch_first = spec.rank > 0 and isinstance(spec.shape[0], str)
        if array.ndim != spec.rank or (batch_first and array.shape[0] != batch):
            raise ModelOutputError(f"output {spec.name} has shape {array.shape}; expected {spec.shape}")
    for spec in specs:
        array = outputs[spec.name]
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise InputValueError(
                f"the input values drive output {spec.name!r} to NaN or infinity; send values in the "
                "range the model was trained on"
            )
