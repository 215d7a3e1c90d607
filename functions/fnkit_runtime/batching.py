"""How a request's items are run: one call, one call per token length, or one call per item.

The build chooses the execution for the shipped artifact (its batch-invariance gate: every item's
outputs must equal running it alone) and records it in the manifest; the function and the build's
golden and invariance checks all run items through `run_items`, so what the gate measured is what
the function does.

- `batch`: one call over the whole request (text padded to its longest item).
- `length_buckets`: items of one token length share a call, so nothing is padded and a mixed
  request does not pay for its longest item; right for graphs whose arithmetic does not depend on
  batch-mates (fp32, static int8).
- `per_item`: one call per item; dynamically quantized graphs pick one activation scale per tensor
  over the batch, so only a call of their own keeps an item's answer independent of the others.
Outputs go back in request order.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from fnkit_runtime.exceptions import ModelOutputError

Feeds = dict[str, np.ndarray]
Runner = Callable[[Feeds], Mapping[str, np.ndarray]]


class Execution(enum.Enum):
    """The values are the manifest's `EXECUTIONS`."""

    BATCH = "batch"
    LENGTH_BUCKETS = "length_buckets"
    PER_ITEM = "per_item"


def plan_calls(lengths: Sequence[int], execution: Execution) -> list[list[int]]:
    """Item indices per call; buckets in order of first appearance, request order inside each."""
    if execution is Execution.BATCH:
        return [list(range(len(lengths)))] if lengths else []
    if execution is Execution.PER_ITEM:
        return [[index] for index in range(len(lengths))]
    buckets: dict[int, list[int]] = {}
    for index, length in enumerate(lengths):
        buckets.setdefault(length, []).append(index)
    return list(buckets.values())


def stack_rows(rows: Sequence[Feeds], pad_values: Mapping[str, int] | None = None) -> Feeds:
    """One batch from single-item rows (each input shaped (1, ...)); pads axis 1 when lengths differ."""
    names = list(rows[0])
    if pad_values is None or all(row[name].shape == rows[0][name].shape for row in rows for name in names):
        return {name: np.concatenate([row[name] for row in rows], axis=0) for name in names}
    longest = max(row[names[0]].shape[1] for row in rows)
    stacked = {}
    for name in names:
        padded = [
            np.pad(
                row[name],
                ((0, 0), (0, longest - row[name].shape[1])),
                constant_values=pad_values.get(name, 0),
            )
            for row in rows
        ]
        stacked[name] = np.concatenate(padded, axis=0)
    return stacked


def split_rows(feeds: Mapping[str, np.ndarray], lengths: Sequence[int] | None = None) -> list[Feeds]:
    """Single-item rows from a batch; with `lengths`, each row is cut to its length on axis 1."""
    size = int(next(iter(feeds.values())).shape[0])
    rows = []
    for index in range(size):
        row = {name: value[index : index + 1] for name, value in feeds.items()}
        if lengths is not None:
            row = {name: value[:, : lengths[index]] for name, value in row.items()}
        rows.append(row)
    return rows


def run_items(
    run: Runner,
    rows: Sequence[Feeds],
    lengths: Sequence[int],
    execution: Execution,
    pad_values: Mapping[str, int] | None = None,
) -> dict[str, np.ndarray]:
    """Run every item as `execution` says; outputs batch-first, in the order of `rows`."""
    results: dict[str, np.ndarray] = {}
    for indices in plan_calls(lengths, execution):
        outputs = run(stack_rows([rows[i] for i in indices], pad_values))
        for name, value in outputs.items():
            if value.ndim == 0 or value.shape[0] != len(indices):
                raise ModelOutputError(f"output {name} has shape {value.shape} for {len(indices)} items")
            if name not in results:
                results[name] = np.empty((len(rows), *value.shape[1:]), dtype=value.dtype)
            elif results[name].shape[1:] != value.shape[1:]:
                raise ModelOutputError(
                    f"output {name} is {value.shape[1:]} for one call and {results[name].shape[1:]} "
                    "for another: it cannot follow the request order item by item"
                )
            results[name][indices] = value
    return results
