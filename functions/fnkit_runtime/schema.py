"""Typed reading of JSON into the manifest's frozen dataclasses: its check at load.

Each field's annotation says what it accepts, read once per class: `int` takes a JSON integer only
(never `true`, `1.0` or `"64"`), `float` an integer or a number, `bool` only `true`/`false`, `str`
a string, an Enum or a Literal one of its values, `list[X]` / `tuple[X, ...]` / `dict[str, X]`
containers of those, `X | None` also null, a dataclass an object holding no key it does not declare
and every field without a default. Ranges and cross-field rules
stay in each class's `__post_init__`, raised as `FieldError` relative to the class; `read` prefixes
the path, so every message names the field in full (`signature.inputs[0].dtype`).

Standard library only and cheap: the function's cold start reads the manifest on its first request.
Classes without postponed annotations (the manifest's) hand over their types as they are; string
annotations would cost a `typing.get_type_hints` evaluation (about 1 ms for the manifest) once.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from fnkit_runtime.exceptions import ManifestError

T = TypeVar("T")

_HINTS: dict[type, dict[str, Any]] = {}
_KINDS: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


class FieldError(ManifestError):
    """A manifest field has the wrong type or a value out of range; names the field's path."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"manifest field {field!r} {problem}")
        self.field = field
        self.problem = problem


def describe(value: Any) -> str:
    """`the string '64'`, `a boolean True`, `a list`: what a wrong value is, shortly."""
    kind = _KINDS.get(type(value), type(value).__name__)
    if isinstance(value, (bool, int, float, str)):
        text = repr(value)
        return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"
    return kind


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _hints(cls: type) -> dict[str, Any]:
    """Field name -> type. Classes defined without postponed annotations (the manifest's) hold the
    types themselves, read for free; string annotations are evaluated once (typing.get_type_hints)."""
    hints = _HINTS.get(cls)
    if hints is None:
        fields = dataclasses.fields(cls)
        if any(isinstance(f.type, str) for f in fields):
            hints = get_type_hints(cls)
        else:
            hints = {f.name: f.type for f in fields}
        _HINTS[cls] = hints
    return hints


def read(cls: type[T], data: Any, path: str = "") -> T:
    """`data` as an instance of the dataclass `cls`; FieldError naming the first wrong field."""
    if not isinstance(data, dict):
        raise FieldError(path or "manifest", f"must be an object, not {describe(data)}")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # cls is a dataclass by contract
    known = {f.name for f in fields}
    for key in data:
        if key not in known:
            raise FieldError(join(path, str(key)), "is not a known field")
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in fields:
        where = join(path, f.name)
        if f.name in data:
            values[f.name] = _value(hints[f.name], data[f.name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise FieldError(where, "is missing")
    try:
        return cls(**values)
    except FieldError as exc:
        raise FieldError(join(path, exc.field), exc.problem) from None


def _value(hint: Any, value: Any, path: str) -> Any:
    if hint is Any:
        return value
    origin = get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return _union(get_args(hint), value, path)
    if origin is Literal:
        one_of(path, value, get_args(hint))
        return value
    if origin in (list, tuple, dict):
        return _container(origin, get_args(hint), value, path)
    if dataclasses.is_dataclass(hint):
        return read(hint, value, path)  # type: ignore[arg-type]  # a class, not an instance
    return _scalar(hint, value, path)


def _container(origin: Any, args: tuple[Any, ...], value: Any, path: str) -> Any:
    if origin is dict:
        if not isinstance(value, dict):
            raise FieldError(path, f"must be an object, not {describe(value)}")
        return {str(k): _value(args[1], v, join(path, str(k))) for k, v in value.items()}
    if not isinstance(value, list):
        raise FieldError(path, f"must be a list, not {describe(value)}")
    items = [_value(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    return items if origin is list else tuple(items)


def _scalar(hint: Any, value: Any, path: str) -> Any:
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            one_of(path, value, [member.value for member in hint])
    if hint is float:
        if type(value) not in (int, float):
            raise FieldError(path, f"must be a number, not {describe(value)}")
        return float(value)
    if type(value) is not hint:
        raise FieldError(path, f"must be {_KINDS.get(hint, str(hint))}, not {describe(value)}")
    return value


def _union(members: tuple[Any, ...], value: Any, path: str) -> Any:
    if value is None:
        if type(None) in members:
            return None
        raise FieldError(path, "must not be null")
    for member in members:
        if member is type(None):
            continue
        if member in (int, str, bool) and type(value) is not member:
            continue
        return _value(member, value, path)
    kinds = " or ".join(_KINDS.get(m, str(m)) for m in members)
    raise FieldError(path, f"must be {kinds}, not {describe(value)}")


def finite(path: str, value: float) -> None:
    if not math.isfinite(value):
        raise FieldError(path, f"must be a finite number, not {value!r}")


def at_least(path: str, value: float, low: float) -> None:
    if value < low:
        raise FieldError(path, f"is {value!r}; it must be at least {low!r}")


def within(path: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise FieldError(path, f"is {value!r}; it must be within [{low!r}, {high!r}]")


def one_of(path: str, value: Any, allowed: typing.Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise FieldError(path, f"is {value!r}; it must be one of {', '.join(map(str, allowed))}")
