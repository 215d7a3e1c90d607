"""The batch-invariance gate: an item's outputs must not depend on the other items of its request.

For each candidate, every evaluation item is run alone, then the whole evaluation set is run as one
request through `fnkit_runtime.batching.run_items` with each execution the registry allows, in its
order; the first execution whose outputs stay within `INVARIANCE_ATOL` of the items alone is the one
the function would use for that candidate. None holding rejects the candidate, with the numbers.

The request mixes lengths (the evaluation set's own) and, for text models, gives every item a
same-length batch-mate (its tokens between the first and the last in reverse order), so an
execution that batches items of one length is tested against real batch-mates too. Dynamic int8 picks
one activation scale per tensor over a call's batch: it passes with `per_item` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fnkit_runtime.batching import Execution, run_items, split_rows

from fnkit_build.registry import ModelSpec
from fnkit_build.types import Array, Feeds

INVARIANCE_ATOL = 1e-5
"""Largest allowed difference between an item in a mixed batch and the same item alone."""


@dataclass(frozen=True)
class Invariance:
    execution: str | None
    """The first allowed execution that holds (None: none does)."""
    max_abs: dict[str, float] = field(default_factory=dict)
    """Execution tried -> largest difference to the items alone."""
    outputs: dict[str, Array] = field(default_factory=dict)
    """The evaluation items' outputs as the function would serve them (the chosen execution), in
    evaluation order; the items alone when no execution holds."""

    @property
    def passed(self) -> bool:
        return self.execution is not None

    def reason(self) -> str:
        tried = ", ".join(f"{name} {diff:.3g}" for name, diff in self.max_abs.items())
        return f"not batch-invariant: max abs diff to items alone {tried} (limit {INVARIANCE_ATOL:g})"


def item_rows(spec: ModelSpec, feeds: Feeds) -> tuple[list[Feeds], list[int]]:
    """Single-item rows of an evaluation batch; text rows lose their padding (by attention_mask)."""
    inputs = {t.name: feeds[t.name] for t in spec.inputs}
    if spec.text is None:
        return split_rows(inputs), [0] * len(next(iter(inputs.values())))
    mask = inputs.get("attention_mask")
    width = next(iter(inputs.values())).shape[1]
    count = len(next(iter(inputs.values())))
    lengths = [int(m.sum()) for m in mask] if mask is not None else [width] * count
    return split_rows(inputs, lengths), lengths


def same_length_mate(row: Feeds) -> Feeds:
    """Another input of the same length: the tokens between the first and the last reversed."""
    mate = {}
    for name, value in row.items():
        copy = value.copy()
        copy[:, 1:-1] = value[:, 1:-1][:, ::-1]
        mate[name] = copy
    return mate


def _max_diff(together: Mapping[str, Array], alone: Mapping[str, Array], count: int) -> float:
    return max(
        float(np.max(np.abs(together[name][:count].astype(np.float64) - alone[name].astype(np.float64))))
        for name in alone
    )


def check_invariance(
    spec: ModelSpec,
    session: Any,
    feeds: Feeds,
    pad_values: Mapping[str, int] | None = None,
    executions: Sequence[str] = (),
) -> Invariance:
    """Try `executions` (default: the registry's) on `session` in order; the first that holds wins."""
    names = [tensor.name for tensor in spec.outputs]

    def run(batch: Feeds) -> dict[str, Array]:
        return dict(zip(names, session.run(names, batch), strict=True))

    rows, lengths = item_rows(spec, feeds)
    singles = [run(row) for row in rows]
    alone = {name: np.concatenate([single[name] for single in singles], axis=0) for name in names}
    request: Sequence[Feeds] = rows
    request_lengths = lengths
    if spec.text is not None:
        request = [*rows, *(same_length_mate(row) for row in rows)]
        request_lengths = [*lengths, *lengths]
    tried: dict[str, float] = {}
    for execution in executions or spec.execution:
        together = run_items(run, request, request_lengths, Execution(execution), pad_values)
        tried[execution] = _max_diff(together, alone, len(rows))
        if tried[execution] <= INVARIANCE_ATOL:
            served = {name: value[: len(rows)] for name, value in together.items()}
            return Invariance(execution, tried, served)
    return Invariance(None, tried, alone)
