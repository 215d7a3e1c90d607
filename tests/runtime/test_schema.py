"""fnkit_runtime.schema: reading JSON into annotated dataclasses, strictly (the manifest's checker)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from fnkit_runtime.schema import FieldError, at_least, read


class Kind(enum.Enum):
    A = "a"
    B = "b"


@dataclass(frozen=True)
class Inner:
    count: int

    def __post_init__(self) -> None:
        at_least("count", self.count, 1)


@dataclass(frozen=True)
class Outer:
    kind: Kind
    mode: Literal["fast", "exact"]
    dims: tuple[int | str, ...]
    inner: list[Inner]
    scores: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    anything: Any = None


GOOD = {"kind": "a", "mode": "fast", "dims": ["batch", 3], "inner": [{"count": 2}], "scores": {"x": 1}}


def test_a_good_document_reads_into_the_dataclasses():
    value = read(Outer, GOOD)
    assert value == Outer(Kind.A, "fast", ("batch", 3), [Inner(2)], {"x": 1.0})
    assert isinstance(value.scores["x"], float)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "c"}, "'kind' is 'c'; it must be one of a, b"),
        ({"mode": "slow"}, "'mode' is 'slow'"),
        ({"dims": [True]}, "'dims[0]' must be an integer or a string, not a boolean True"),
        ({"dims": "batch"}, "'dims' must be a list, not a string"),
        ({"inner": [{"count": 0}]}, "'inner[0].count' is 0; it must be at least 1"),
        ({"inner": [{"count": 1, "extra": 2}]}, "'inner[0].extra' is not a known field"),
        ({"inner": [{}]}, "'inner[0].count' is missing"),
        ({"scores": {"x": "1"}}, "'scores.x' must be a number, not a string '1'"),
        ({"note": 3}, "'note' must be a string or null, not an integer 3"),
        ({"mode": None}, "'mode' is None; it must be one of fast, exact"),
    ],
)
def test_each_wrong_value_names_its_field(change, message):
    with pytest.raises(FieldError) as refused:
        read(Outer, {**GOOD, **change})
    assert message in str(refused.value)


def test_a_non_object_is_refused():
    with pytest.raises(FieldError, match="'manifest' must be an object, not a list"):
        read(Outer, [])
