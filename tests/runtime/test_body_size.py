"""A direct invocation's size check: the cheap bound refuses exactly the bodies `body_bytes` refuses."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fnkit_runtime.exceptions import BodyTooLargeError
from fnkit_runtime.manifest import Limits
from fnkit_runtime.validation import body_bytes, check_parsed_body_size
from hypothesis import given, settings
from hypothesis import strategies as st

_LEAVES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.booleans(),
)
_ROWS = st.lists(_LEAVES, max_size=12)
_TENSORS = st.recursive(_ROWS, lambda inner: st.lists(inner, min_size=1, max_size=4), max_leaves=60)
_INPUTS = st.one_of(
    _TENSORS,
    st.dictionaries(st.text(max_size=8), _TENSORS, min_size=1, max_size=3),
    st.lists(st.text(max_size=10), max_size=4),  # text: no bound, measured exactly
)


def _refused(body: dict[str, Any], limit: int) -> str | None:
    try:
        check_parsed_body_size(body, Limits(max_body_bytes=limit))
    except BodyTooLargeError as exc:
        return str(exc)
    return None


@settings(max_examples=400, deadline=None)
@given(inputs=_INPUTS, slack=st.integers(min_value=-3, max_value=3))
def test_the_bound_refuses_exactly_what_the_exact_size_refuses(inputs: Any, slack: int) -> None:
    # GIVEN a parsed body, and a limit just around its exact compact-JSON size
    body = {"inputs": inputs}
    exact = body_bytes(body)
    limit = max(1, exact + slack)

    # WHEN the direct path checks it
    refused = _refused(body, limit)

    # THEN it is refused when, and only when, the exact size is over the limit, with that size
    if exact > limit:
        assert refused == f"the body is {exact} bytes; the limit is {limit}"
    else:
        assert refused is None


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param([[-2.2250738585072014e-308] * 50], id="longest-floats"),
        pytest.param([[-(10**30), 10**30, True]], id="long-ints-and-bools"),
        pytest.param([[math.nan, 10**30]], id="nan-beside-a-long-int"),
        pytest.param([[], []], id="empty-rows"),
        pytest.param({"\u0001" * 5: [1.5]}, id="escaped-input-name"),
    ],
)
def test_worst_cases_at_the_exact_limit(inputs: Any) -> None:
    # GIVEN bodies whose items spell as long as JSON allows
    body = {"inputs": inputs}
    exact = body_bytes(body)

    # THEN one byte under their size refuses them, their size passes
    assert _refused(body, exact - 1) is not None
    assert _refused(body, exact) is None
