"""The accuracy gate: score every candidate on the task metric, time it, choose the fastest passing.

Metrics compare a candidate's outputs on the evaluation set with the torch fp32 reference:
- `accuracy_drop`: torch fp32 accuracy minus the candidate's (lower is better);
- `cosine_mean`: mean cosine similarity per item on the first output (higher is better); optional
  `same_nearest_neighbour`: every item keeps the reference's nearest neighbour;
- `max_abs_error`: largest absolute difference over every output (lower is better).
`max_size_ratio` bounds every candidate's bytes against fp32's. Batch invariance (`invariance`):
an item's outputs in a mixed request must equal its outputs alone, under one of the registry's
executions; the metric scores the outputs as that execution serves them. Each check is fatal for a
candidate.
Latency is the p50 of single-item runs on the raw (un-optimized) file, one thread, as on Lambda.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fnkit_runtime.manifest import CandidateResult, RepairInfo
from fnkit_runtime.vocabulary import Candidate, Metric

from fnkit_build.exceptions import GateError
from fnkit_build.inference import open_session, run_session
from fnkit_build.invariance import check_invariance
from fnkit_build.registry import GateSpec, ModelSpec
from fnkit_build.serving import session_optimizers_off
from fnkit_build.types import Array, Feeds, take

FASTER_MARGIN = 0.2
"""A later-listed candidate replaces an earlier one only if it is >20% faster, so timing noise
between near-equal candidates cannot flip the choice (and the artifact) from one build to the next."""
FP32_SPEEDUP_TO_WIN = 1.5
FP32_MIN_GAIN_MS = 0.5
"""fp32 is the fallback: it is chosen over a passing quantized candidate only when that candidate is
both more than 1.5x and more than 0.5 ms slower at p50 (e.g. dynamic int8 on convolutions: ConvInteger
is 4-15x slower on CPU). Below that, the gap is per-call overhead on a tiny graph — under Lambda's 1 ms
billing step — and the int8 file still ships smaller and loads faster."""
LATENCY_RUNS = 40
LATENCY_BUDGET_S = 3.0


@dataclass(frozen=True)
class Evaluation:
    """One candidate as the gate saw it."""

    name: str
    path: Path
    bytes: int
    metric: float
    raw_metric: float
    """The metric's raw value (accuracy for accuracy_drop) for fp32 -> chosen reports."""
    passed: bool
    latency_ms_p50: float
    reasons: tuple[str, ...] = ()
    extra: dict[str, float] = field(default_factory=dict)
    execution: str | None = None
    """How the function would run this candidate's requests (None: not batch-invariant)."""
    fused_operators: dict[str, int] = field(default_factory=dict)

    def result(self, repair: RepairInfo | None = None) -> CandidateResult:
        """The candidate as the manifest records it (its latency goes to the build report); `repair`
        for a repaired candidate."""
        return CandidateResult(
            name=self.name,
            bytes=self.bytes,
            metric=self.metric,
            passed=self.passed,
            reason="; ".join(self.reasons),
            extra=dict(sorted(self.extra.items())),
            repair=repair,
        )


def accuracy(logits: Array, labels: Array) -> float:
    return float(np.mean(np.argmax(logits.reshape(len(labels), -1), axis=1) == labels))


def cosines(actual: Array, expected: Array) -> Array:
    a = actual.reshape(len(actual), -1).astype(np.float64)
    e = expected.reshape(len(expected), -1).astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(e, axis=1)
    return np.asarray(np.sum(a * e, axis=1) / np.maximum(norms, 1e-12))


def nearest_neighbours(embeddings: Array) -> Array:
    """Index of each row's most similar other row (cosine)."""
    rows = embeddings.reshape(len(embeddings), -1).astype(np.float64)
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    sims = rows @ rows.T
    np.fill_diagonal(sims, -np.inf)
    return np.asarray(np.argmax(sims, axis=1))


def score(
    gate: GateSpec, outputs: dict[str, Array], reference: dict[str, Array], labels: Array | None
) -> tuple[float, float, list[str], dict[str, float]]:
    """(metric, raw value, failure reasons, extra numbers) for one candidate's outputs."""
    first = next(iter(reference))
    reasons: list[str] = []
    extra: dict[str, float] = {}
    if not all(np.all(np.isfinite(out)) for out in outputs.values()):
        reasons.append("non-finite outputs")
    if gate.metric is Metric.ACCURACY_DROP:
        assert labels is not None, "accuracy_drop needs labels (checked when the bundle is loaded)"
        raw = accuracy(outputs[first], labels)
        metric = accuracy(reference[first], labels) - raw
        extra["accuracy"] = raw
    elif gate.metric is Metric.COSINE_MEAN:
        cos = cosines(outputs[first], reference[first])
        metric = raw = float(np.mean(cos))
        extra["cosine_min"] = float(np.min(cos))
    else:
        metric = raw = max(float(np.max(np.abs(outputs[n] - reference[n]), initial=0.0)) for n in reference)
    if not np.isfinite(metric) or not gate.passes(metric):
        reasons.append(f"{gate.metric} {metric:.4g} fails {gate.metric.operator} {gate.threshold:g}")
    if gate.same_nearest_neighbour:
        same = nearest_neighbours(outputs[first]) == nearest_neighbours(reference[first])
        extra["nearest_neighbour_agreement"] = float(np.mean(same))
        if not np.all(same):
            reasons.append(f"{int(np.sum(~same))}/{len(same)} items changed nearest neighbour")
    return metric, raw, reasons, extra


def measure_latency_ms(path: Path, feeds: Feeds, disabled: Sequence[str] = ()) -> float:
    """p50 wall time of one single-item run on a 1-thread session of the file as written (without
    the graph transformers in `disabled`)."""
    session = open_session(path, threads=1, disabled=disabled)
    one = {name: value for name, value in take(feeds, 0, 1).items() if name in _input_names(session)}
    for _ in range(5):
        session.run(None, one)
    times: list[float] = []
    deadline = time.perf_counter() + LATENCY_BUDGET_S
    while len(times) < LATENCY_RUNS and (len(times) < 5 or time.perf_counter() < deadline):
        start = time.perf_counter()
        session.run(None, one)
        times.append((time.perf_counter() - start) * 1000)
    return float(statistics.median(times))


def _input_names(session: object) -> set[str]:
    return {i.name for i in session.get_inputs()}  # type: ignore[attr-defined]


def evaluate(
    spec: ModelSpec,
    name: str,
    path: Path,
    *,
    feeds: Feeds,
    reference: dict[str, Array],
    labels: Array | None,
    fp32_bytes: int,
    pad_values: dict[str, int] | None = None,
    fused_operators: dict[str, int] | None = None,
) -> Evaluation:
    """Score and time one candidate file; the metric scores its outputs as the function serves them."""
    size = path.stat().st_size
    disabled = session_optimizers_off(spec.optimizer, name)
    session = open_session(path, threads=1, disabled=disabled)
    invariance = check_invariance(spec, session, feeds, pad_values)
    outputs = invariance.outputs if invariance.passed else run_session(session, feeds, spec)
    metric, raw, reasons, extra = score(spec.gate, outputs, reference, labels)
    for execution, diff in invariance.max_abs.items():
        extra[f"batch_invariance_max_abs_{execution}"] = diff
    if not invariance.passed:
        reasons.append(invariance.reason())
    ratio = size / fp32_bytes
    extra["size_ratio"] = ratio
    if spec.gate.max_size_ratio is not None and ratio > spec.gate.max_size_ratio:
        reasons.append(f"size {ratio:.1%} of fp32 exceeds {spec.gate.max_size_ratio:.0%}")
    latency = measure_latency_ms(path, feeds, disabled)
    return Evaluation(
        name,
        path,
        size,
        metric,
        raw,
        not reasons,
        latency,
        tuple(reasons),
        extra,
        invariance.execution,
        dict(fused_operators or {}),
    )


def _much_slower(candidate_ms: float, fp32_ms: float) -> bool:
    return candidate_ms > fp32_ms * FP32_SPEEDUP_TO_WIN and candidate_ms - fp32_ms > FP32_MIN_GAIN_MS


def choose(spec: ModelSpec, evaluations: list[Evaluation]) -> Evaluation:
    """The fastest passing quantized candidate (registry order breaks near-ties), else fp32.

    fp32 also wins when the best quantized candidate is more than `FP32_SPEEDUP_TO_WIN` times and more
    than `FP32_MIN_GAIN_MS` slower.

    Raises GateError with every candidate's numbers when nothing passes.
    """
    best: Evaluation | None = None
    for candidate in evaluations:
        if candidate.name == Candidate.FP32 or not candidate.passed:
            continue
        if best is None or candidate.latency_ms_p50 < best.latency_ms_p50 * (1 - FASTER_MARGIN):
            best = candidate
    fp32 = next((e for e in evaluations if e.name == Candidate.FP32), None)
    if (
        fp32 is not None
        and fp32.passed
        and (best is None or _much_slower(best.latency_ms_p50, fp32.latency_ms_p50))
    ):
        best = fp32
    if best is None:
        lines = "; ".join(
            f"{e.name}: {spec.gate.metric} {e.metric:.4g}, {e.bytes} bytes, {e.latency_ms_p50:.3g} ms "
            f"({', '.join(e.reasons)})"
            for e in evaluations
        )
        raise GateError(
            f"model {spec.name!r}: no candidate passes the gate ({spec.gate.metric} threshold "
            f"{spec.gate.threshold:g}), fp32 included: {lines}. Nothing was written. Loosen the gate "
            "in the registry only if the numbers are acceptable, or try other quantization candidates."
        )
    return best
