"""`fnkit_runtime.records.record` behaves as `@dataclass(frozen=True)` and compiles nothing at import."""

from __future__ import annotations

import builtins
import dataclasses
import functools
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from fnkit_runtime import manifest
from fnkit_runtime.records import record


def _define(decorator: Callable[[type], type], name: str = "Item") -> type:
    class Item:
        name: str
        shape: list[int]
        scale: float = 1.0
        tags: dict[str, str] = dataclasses.field(default_factory=dict)
        note: str = dataclasses.field(default="", compare=False, repr=False)
        derived: int = dataclasses.field(default=0, init=False)

        def __post_init__(self) -> None:
            if not self.name:
                raise ValueError("name is empty")
            object.__setattr__(self, "derived", len(self.shape))

        @functools.cached_property
        def rank(self) -> int:
            return len(self.shape)

    Item.__name__ = Item.__qualname__ = name  # a module-level name: picklable
    return decorator(Item)


FROZEN = _define(dataclasses.dataclass(frozen=True), "FROZEN")
RECORD = _define(record, "RECORD")
BOTH = pytest.mark.parametrize("cls", [FROZEN, RECORD], ids=["dataclass", "record"])


@BOTH
def test_init_positional_keyword_defaults_and_post_init(cls: Any) -> None:
    item = cls("x", [2, 3], tags={"a": "b"})
    assert (item.name, item.shape, item.scale, item.tags, item.note, item.derived) == (
        "x",
        [2, 3],
        1.0,
        {"a": "b"},
        "",
        2,
    )
    assert cls("y", [1]).tags is not cls("y", [1]).tags  # a fresh default per instance
    with pytest.raises(ValueError, match="name is empty"):
        cls("", [1])


@BOTH
@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {"shape": [1]}, "missing 1 required positional argument: 'name'"),
        (("x", [1]), {"colour": 1}, "unexpected keyword argument 'colour'"),
        (("x", [1]), {"name": "y"}, "multiple values for argument 'name'"),
        (("x", [1], 2.0, {}, "n", 9), {}, "positional argument"),
        (("x", [1]), {"derived": 3}, "unexpected keyword argument 'derived'"),
    ],
)
def test_bad_arguments_raise_type_error(
    cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        cls(*args, **kwargs)


@BOTH
def test_frozen_compared_hashed_shown(cls: Any) -> None:
    item = cls("x", [2], note="a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.name = "y"
    with pytest.raises(dataclasses.FrozenInstanceError):
        del item.name
    assert item == cls("x", [2], note="b")  # `note` is not compared
    assert item != cls("x", [3])
    assert item != ("x", [2])
    assert cls("x", [1], scale=float("nan")) != cls("x", [1], scale=float("nan"))
    same = cls("x", [1], scale=float("nan"))
    assert same == same  # identity first, as the generated method's tuple comparison
    assert repr(item) == f"{cls.__qualname__}(name='x', shape=[2], scale=1.0, tags={{}}, derived=1)"
    with pytest.raises(TypeError, match="unhashable"):
        hash(item)  # a list field, as with the generated __hash__


@BOTH
def test_dataclass_functions_and_pickle(cls: Any) -> None:
    item = cls("x", [2, 3], tags={"a": "b"})
    assert [f.name for f in dataclasses.fields(item)] == ["name", "shape", "scale", "tags", "note", "derived"]
    assert dataclasses.asdict(item)["tags"] == {"a": "b"}
    changed = dataclasses.replace(item, scale=2.0)
    assert (changed.scale, changed.name, changed.derived) == (2.0, "x", 2)
    assert pickle.loads(pickle.dumps(item)) == item
    assert cls.__match_args__ == ("name", "shape", "scale", "tags", "note")
    assert item.rank == 2 and item.__dict__["rank"] == 2  # cached_property still caches
    assert dataclasses.is_dataclass(item)


def test_hash_of_hashable_record_matches_its_fields() -> None:
    @record
    class Point:
        x: int
        y: int

    assert hash(Point(1, 2)) == hash((1, 2))
    assert {Point(1, 2), Point(1, 2)} == {Point(1, 2)}
    assert Point.__doc__ == "Point(x, y)"


def test_a_frozen_dataclass_can_subclass_a_record() -> None:
    @dataclasses.dataclass(frozen=True)
    class Sub(RECORD):  # type: ignore[misc, valid-type]
        extra: int = 0

    sub = Sub("x", [1], extra=4)
    assert (sub.name, sub.extra, sub.derived) == ("x", 4, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sub.extra = 5  # type: ignore[misc]


def test_a_record_that_defines_a_generated_method_is_refused() -> None:
    with pytest.raises(TypeError, match="defines __eq__"):

        @record
        class Odd:  # noqa: PLW1641
            x: int

            def __eq__(self, other: object) -> bool:
                return True


def test_record_compiles_no_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of `record`: `dataclass(frozen=True)` would `exec` six method sources per class."""
    compiled: list[str] = []
    real_exec = builtins.exec

    def counting_exec(source: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(source, str):
            compiled.append(source)
        return real_exec(source, *args, **kwargs)

    monkeypatch.setattr(builtins, "exec", counting_exec)
    _define(record)
    assert compiled == []
    _define(dataclasses.dataclass(frozen=True))
    assert len(compiled) == 6  # the comparison: the stdlib's generated methods, one exec each


def test_manifest_classes_are_records() -> None:
    """Every dataclass of the manifest module is a record (none compiles methods at the function's
    import), so the manifest's cold-start cost stays what docs/performance.md says."""
    classes = [v for v in vars(manifest).values() if isinstance(v, type) and dataclasses.is_dataclass(v)]
    assert len(classes) >= 13
    assert all(cls.__init__.__module__ == "fnkit_runtime.records" for cls in classes), [
        cls.__name__ for cls in classes if cls.__init__.__module__ != "fnkit_runtime.records"
    ]


@pytest.mark.parametrize(
    "decorator", [dataclasses.dataclass(frozen=True), record], ids=["dataclass", "record"]
)
def test_an_init_false_field_without_a_default_is_left_unset(decorator: Callable[[type], type]) -> None:
    class Partial:
        x: int
        later: int = dataclasses.field(init=False)

    item: Any = decorator(Partial)(1)
    assert item.x == 1 and not hasattr(item, "later")
