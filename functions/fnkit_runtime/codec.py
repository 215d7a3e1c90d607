"""JSON <-> numpy: decode request tensors (nested lists or base64 `.npy`), encode outputs.

Decoding checks the *kind* of the values against the signature's dtype before casting, so a string,
null, object, boolean or out-of-range integer never turns silently into a number (numpy reads
`[true, 0.5]` as `[1.0, 0.5]`; fnkit answers 400), nor a number into a boolean. Shapes and limits are the
validator's job (`fnkit_runtime.validation`).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from fnkit_runtime.exceptions import InputDtypeError, InputNameError, InputValueError, NpyDecodeError
from fnkit_runtime.manifest import TensorSpec

NPY_KEY = "npy"

_ACCEPTED_KINDS: dict[str, str] = {
    "f": "fiu",  # float targets take floats and integers
    "i": "iu",
    "u": "iu",
    "b": "b",
}


_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _decode_npy(encoded: Any, name: str) -> np.ndarray:
    if not isinstance(encoded, str):
        raise NpyDecodeError(f"input {name!r}: 'npy' must be a base64 string")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise NpyDecodeError(f"input {name!r}: 'npy' is not valid base64") from None
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = _HEADER_READERS.get(version)
        if read_header is None:
            raise NpyDecodeError(f"input {name!r}: .npy format version is not supported")
        shape, fortran, dtype = read_header(stream)
        if dtype.hasobject or dtype.kind not in "biuf":
            raise NpyDecodeError(f"input {name!r}: .npy dtype is not numeric")
        expected = math.prod(shape) * dtype.itemsize
        if len(data) - stream.tell() != expected:
            raise NpyDecodeError(f"input {name!r}: .npy data size does not match its header")
        stream.seek(0)
        array: np.ndarray = np.load(stream, allow_pickle=False)
    except NpyDecodeError:
        raise
    except Exception:
        raise NpyDecodeError(f"input {name!r}: 'npy' is not a readable .npy file") from None
    return array if not fortran else np.ascontiguousarray(array)


def _holds_bool(rows: list[Any]) -> bool:
    """Whether a rectangular nested list of numbers holds a JSON boolean anywhere (C-speed scans)."""
    if rows and type(rows[0]) is list:
        return any(_holds_bool(row) for row in rows)
    return bool in map(type, rows)


def _from_lists(value: Any, name: str) -> np.ndarray:
    if not isinstance(value, list):
        raise InputDtypeError(f"input {name!r} must be a nested list of numbers or {{'npy': base64}}")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        raise InputDtypeError(f"input {name!r} must be a rectangular nested list of numbers") from None
    if array.dtype.kind in "iuf" and _holds_bool(value):
        raise InputDtypeError(f"input {name!r} mixes booleans with numbers")
    return array


def _cast(raw: np.ndarray, spec: TensorSpec) -> np.ndarray:
    target = np.dtype(spec.dtype) if spec.dtype != "string" else None
    if target is None or target.kind not in _ACCEPTED_KINDS:
        raise InputDtypeError(f"input {spec.name!r} has dtype {spec.dtype}, which requests cannot carry")
    if raw.dtype.kind not in _ACCEPTED_KINDS[target.kind]:
        raise InputDtypeError(f"input {spec.name!r} must hold {spec.dtype} values")
    if target.kind in "iu" and raw.size:
        info = np.iinfo(target)
        if raw.min() < info.min or raw.max() > info.max:
            raise InputValueError(f"input {spec.name!r} has values outside the {spec.dtype} range")
    with np.errstate(over="ignore", invalid="ignore"):
        return raw.astype(target, copy=False)


def decode_tensor(value: Any, spec: TensorSpec) -> np.ndarray:
    """One tensor from a nested list or `{"npy": base64}`, cast to the spec's dtype."""
    if isinstance(value, Mapping):
        if set(value) != {NPY_KEY}:
            raise InputDtypeError(f"input {spec.name!r}: an object must be {{'npy': base64}}")
        raw = _decode_npy(value[NPY_KEY], spec.name)
    else:
        raw = _from_lists(value, spec.name)
    return _cast(raw, spec)


def decode_tensors(inputs: Any, specs: list[TensorSpec]) -> dict[str, np.ndarray]:
    """The request's `inputs` as arrays by name, for a tensor model.

    One-input models take the tensor itself; several inputs come as `{name: tensor}` (also accepted
    for one input). Every signature input is required and no other name is allowed.
    """
    if len(specs) == 1:
        spec = specs[0]
        if not isinstance(inputs, Mapping) or set(inputs) == {NPY_KEY}:
            return {spec.name: decode_tensor(inputs, spec)}
        if set(inputs) != {spec.name}:
            raise InputNameError(f"inputs must be a tensor, {{'npy': base64}} or {{{spec.name!r}: tensor}}")
        return {spec.name: decode_tensor(inputs[spec.name], spec)}
    if not isinstance(inputs, Mapping):
        names = ", ".join(s.name for s in specs)
        raise InputNameError(f"inputs must be an object with the tensors {names}")
    expected = {s.name for s in specs}
    if set(inputs) != expected:
        missing = sorted(expected - set(inputs))
        extra = len(set(inputs) - expected)
        raise InputNameError(
            f"inputs must name exactly {sorted(expected)}; missing {missing}, {extra} unknown"
        )
    return {s.name: decode_tensor(inputs[s.name], s) for s in specs}


def encode_outputs(outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Outputs as nested lists by name (JSON-ready)."""
    return {name: array.tolist() for name, array in outputs.items()}
