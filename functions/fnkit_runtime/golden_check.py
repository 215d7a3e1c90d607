"""Whether a function's outputs agree with a manifest golden sample: the one comparison.

Used before a SnapStart snapshot (`snapstart`), by the deploy smoke test, and by the emulated-CPU
tests. A sample agrees when every golden output is present with its shape, within the sample's
atol/rtol, and (embeddings) when each returned row's cosine to its golden row reaches `cosine_min`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnkit_runtime.manifest import GoldenSample


def golden_mismatches(sample: GoldenSample, outputs: Any) -> list[str]:
    """How `outputs` (the response's `outputs` object) differ from the sample's; empty when they agree."""
    if not isinstance(outputs, dict):
        return [f"response has no 'outputs' object (got {type(outputs).__name__})"]
    problems = []
    for name, want in sample.outputs.items():
        if name not in outputs:
            problems.append(f"output {name!r} missing")
            continue
        want_arr = np.asarray(want, dtype=np.float64)
        got_arr = np.asarray(outputs[name], dtype=np.float64)
        if want_arr.shape != got_arr.shape:
            problems.append(f"output {name!r} shape {got_arr.shape} != golden {want_arr.shape}")
            continue
        if not np.allclose(got_arr, want_arr, atol=sample.atol, rtol=sample.rtol):
            worst = float(np.max(np.abs(got_arr - want_arr)))
            problems.append(
                f"output {name!r} max abs diff {worst:.3g} beyond atol={sample.atol:g} rtol={sample.rtol:g}"
            )
        if sample.cosine_min is not None:
            worst_cos = min_row_cosine(got_arr, want_arr)
            if not worst_cos >= sample.cosine_min:
                problems.append(
                    f"output {name!r} row cosine {worst_cos:.6f} below the floor {sample.cosine_min:.6f}"
                )
    return problems


def min_row_cosine(actual: np.ndarray, expected: np.ndarray) -> float:
    """The lowest cosine between matching rows (a scalar counts as one row)."""
    a = actual.reshape(len(actual), -1) if actual.ndim else actual.reshape(1, 1)
    e = expected.reshape(len(expected), -1) if expected.ndim else expected.reshape(1, 1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(e, axis=1)
    return float(np.min(np.sum(a * e, axis=1) / np.maximum(norms, 1e-12), initial=1.0))
