"""`@record`: a frozen dataclass whose methods are not compiled at import.

On Python 3.11 and 3.12, `@dataclass(frozen=True)` writes the source of six methods per class
(`__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`) and compiles each with
`exec` when the module is imported: ~0.2 ms a method, 78 of them for the manifest's 13 classes, the
largest single cost fnkit added to a function's cold start (docs/performance.md, "Where the cold start
goes"). `@record` keeps the dataclass and its contract and drops the compiling: `dataclass` collects
the fields (`init=False, repr=False, eq=False`, so it generates nothing), and the six methods below,
written once and generic over the fields, do what the generated ones do:

- a real dataclass: `dataclasses.fields`, `asdict`, `replace`, `is_dataclass`, `__match_args__`,
  and a frozen one (its `__dataclass_params__`), so `@dataclass(frozen=True)` can subclass it;
- `__init__` takes the fields positionally or by name, fills defaults and default factories, raises
  `TypeError` for a missing or unknown argument, then calls `__post_init__`;
- frozen: assigning or deleting a field raises `dataclasses.FrozenInstanceError` (a
  `functools.cached_property` still caches: it writes the instance `__dict__` directly);
- compared (`==`) and hashed by the fields whose `compare` (and `hash`) is on, same class only;
  `repr` shows `Class(field=value, ...)` for the fields whose `repr` is on.

Construction loops over the fields (a few µs) where the generated `__init__` is straight-line code:
fine for what is built once per load (the manifest, the configuration, the loaded model) or once per
request. Type checkers see `@dataclass(frozen=True)` (PEP 681 `dataclass_transform`). Python 3.13's
`dataclass` compiles one `exec` per class; the cost remains, smaller.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform

_T = TypeVar("_T")
_PLAN = "__record_plan__"


class _Plan:
    """What the generic methods need of a record class, computed on its first instance (a plain
    class: a dataclass here would compile the methods this module exists to avoid)."""

    __slots__ = ("compared", "derived", "hashed", "init", "shown")

    def __init__(self, fields: tuple[dataclasses.Field[Any], ...]) -> None:
        self.init = tuple(f for f in fields if f.init)
        """Fields `__init__` takes, in order."""
        self.derived = tuple(f for f in fields if not f.init and _has_default(f))
        """Fields with `init=False` and a default or factory, which fills them (without one such a
        field is left unset, as the generated `__init__` leaves it)."""
        self.compared = tuple(f.name for f in fields if f.compare)
        self.hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
        self.shown = tuple(f.name for f in fields if f.repr)


def _plan(cls: type) -> _Plan:
    plan: _Plan | None = cls.__dict__.get(_PLAN)
    if plan is None:
        plan = _Plan(dataclasses.fields(cls))
        type.__setattr__(cls, _PLAN, plan)
    return plan


def _has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _default(f: dataclasses.Field[Any], cls: type) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise TypeError(f"{cls.__qualname__}.__init__() missing 1 required positional argument: {f.name!r}")


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = type(self)
    plan = _plan(cls)
    if len(args) > len(plan.init):
        raise TypeError(
            f"{cls.__qualname__}.__init__() takes {len(plan.init)} positional arguments "
            f"but {len(args)} were given"
        )
    for f, value in zip(plan.init, args, strict=False):
        if f.name in kwargs:
            raise TypeError(f"{cls.__qualname__}.__init__() got multiple values for argument {f.name!r}")
        object.__setattr__(self, f.name, value)
    for f in plan.init[len(args) :]:
        object.__setattr__(self, f.name, kwargs.pop(f.name) if f.name in kwargs else _default(f, cls))
    if kwargs:
        raise TypeError(
            f"{cls.__qualname__}.__init__() got an unexpected keyword argument {next(iter(kwargs))!r}"
        )
    for f in plan.derived:
        object.__setattr__(self, f.name, _default(f, cls))
    post_init = getattr(self, "__post_init__", None)
    if post_init is not None:
        post_init()


def _setattr(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _values(self: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in names)


def _eq(self: Any, other: object) -> Any:
    """As the generated one: the field tuples compared (so a field that `is` the other's is equal)."""
    if other.__class__ is not self.__class__:
        return NotImplemented
    compared = _plan(type(self)).compared
    return _values(self, compared) == _values(other, compared)


def _hash(self: Any) -> int:
    return hash(_values(self, _plan(type(self)).hashed))


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _plan(type(self)).shown)
    return f"{type(self).__qualname__}({shown})"


_METHODS: dict[str, Callable[..., Any]] = {
    "__init__": _init,
    "__setattr__": _setattr,
    "__delattr__": _delattr,
    "__eq__": _eq,
    "__hash__": _hash,
    "__repr__": _repr,
}


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: type[_T]) -> type[_T]:
    """`@dataclass(frozen=True)` without compiling methods at import (see the module docstring)."""
    for name in _METHODS:
        if name in cls.__dict__:
            raise TypeError(f"@record class {cls.__qualname__} defines {name}; use @dataclass instead")
    undocumented = not cls.__doc__
    if undocumented:  # else `dataclass` writes one from the signature: inspect, then tokenize's regex
        cls.__doc__ = cls.__name__
    cls = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    for name, method in _METHODS.items():
        setattr(cls, name, method)
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    params.init = params.repr = params.eq = params.frozen = True  # what it is: a frozen dataclass
    if undocumented:
        names = (f.name for f in dataclasses.fields(cls) if f.init)  # type: ignore[arg-type]
        cls.__doc__ = f"{cls.__name__}({', '.join(names)})"
    return cls
