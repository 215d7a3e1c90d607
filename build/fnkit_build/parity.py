"""Parity: ONNX Runtime fp32 against torch on the evaluation inputs; fatal beyond the tolerance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fnkit_build.exceptions import ParityError
from fnkit_build.registry import Tolerance
from fnkit_build.types import Array


@dataclass(frozen=True)
class OutputDiff:
    name: str
    max_abs: float
    max_rel: float
    mismatched: int
    total: int

    @property
    def ok(self) -> bool:
        return self.mismatched == 0


def compare(actual: dict[str, Array], expected: dict[str, Array], tolerance: Tolerance) -> list[OutputDiff]:
    """Per output: max abs/rel difference and how many elements fail |a-e| <= atol + rtol*|e|."""
    diffs = []
    for name, want in expected.items():
        got = actual.get(name)
        if got is None or got.shape != want.shape:
            label = name if got is None else f"{name} (shape {got.shape} != {want.shape})"
            diffs.append(OutputDiff(label, float("inf"), float("inf"), max(want.size, 1), want.size))
            continue
        a, e = got.astype(np.float64), want.astype(np.float64)
        err = np.abs(a - e)
        bad = ~np.isclose(a, e, atol=tolerance.atol, rtol=tolerance.rtol, equal_nan=True)
        rel = err / np.maximum(np.abs(e), np.finfo(np.float32).tiny)
        diffs.append(
            OutputDiff(name, float(err.max(initial=0.0)), float(rel.max(initial=0.0)), int(bad.sum()), e.size)
        )
    return diffs


def check_parity(
    model: str, actual: dict[str, Array], expected: dict[str, Array], tolerance: Tolerance, what: str
) -> list[OutputDiff]:
    """Raise one ParityError listing every failing output; return the diffs when all pass."""
    diffs = compare(actual, expected, tolerance)
    failing = [d for d in diffs if not d.ok]
    if failing:
        details = "; ".join(
            f"{d.name}: max abs {d.max_abs:.3g}, max rel {d.max_rel:.3g}, "
            f"{d.mismatched}/{d.total} elements off"
            for d in failing
        )
        raise ParityError(
            f"model {model!r}: {what} differs beyond atol {tolerance.atol:g} / rtol {tolerance.rtol:g}: "
            f"{details}. The exported graph does not compute what the torch module does."
        )
    return diffs
