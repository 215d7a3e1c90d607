"""Repair a failing int8 candidate: keep the nodes that cost the accuracy in float, ship the rest int8.

When an int8 candidate fails the gate on its metric (not on its size, which keeping nodes in float only
makes worse), the search:
1. lists the nodes the quantizer would quantize, named as it matches `nodes_to_exclude`: the dynamic
   quantizer first rewrites each `Gemm` into `<name>_MatMul` + `<name>_Add`, so the names come from
   onnxruntime's own rewrite (`ONNXModel.replace_gemm_with_matmul`), and MatMuls without a constant
   weight are left out as the quantizer leaves them (`MatMulConstBOnly`);
2. ranks them by sensitivity: the candidate quantized at that one node only, run on the evaluation set
   and compared with the torch reference the build already computed (relative squared error summed over
   the outputs; graph order breaks ties, so the ranking, and the artifact, are deterministic);
3. keeps the k worst in float for k = 1, 2, 4, ... up to the bound (`repair.max_excluded_fraction` of
   the quantizable nodes), then bisects down to the smallest passing k; a step passes when the gate's
   own `score` finds nothing wrong and the size bound holds;
4. gates the result like any other candidate (`gate.evaluate`, latency included) as `<name>-repaired`,
   placed right after its base so the choice rule and its registry-order tie-break apply unchanged.
   At the bound without a pass, the bound's file is gated anyway and fails with its numbers, so a
   failed build lists it; fp32 stays the fallback.
Cost: one quantization and one evaluation-set run per quantizable node, then about log2(bound) + 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fnkit_runtime.manifest import ExcludedNode, Manifest, RepairInfo
from fnkit_runtime.vocabulary import Candidate

from fnkit_build.cpus import QuantPreset
from fnkit_build.gate import Evaluation, evaluate, score
from fnkit_build.inference import open_session, run_session
from fnkit_build.progress import Progress
from fnkit_build.quantize import NodeSelection, quantize
from fnkit_build.registry import GateSpec, ModelSpec
from fnkit_build.types import Array, Feeds

REPAIRED_SUFFIX = "-repaired"
DYNAMIC_CANDIDATES = tuple(c for c in Candidate if c.dynamic)


@dataclass(frozen=True)
class RepairContext:
    """What the build already has: the fp32 file, the evaluation set and its torch reference."""

    spec: ModelSpec
    fp32_path: Path
    feeds: Feeds
    reference: dict[str, Array]
    labels: Array | None
    calibration: Sequence[Feeds] | None
    preset: QuantPreset

    @property
    def fp32_bytes(self) -> int:
        return self.fp32_path.stat().st_size


@dataclass(frozen=True)
class Ranked:
    node: ExcludedNode
    error: float
    """Relative squared output error with this node alone quantized."""


def needs_repair(gate: GateSpec, evaluation: Evaluation) -> bool:
    """A quantized candidate that fails on accuracy (metric, non-finite, nearest neighbour), not size."""
    if evaluation.passed or evaluation.name == Candidate.FP32 or evaluation.name.endswith(REPAIRED_SUFFIX):
        return False
    too_big = (
        gate.max_size_ratio is not None and evaluation.extra.get("size_ratio", 0.0) > gate.max_size_ratio
    )
    accuracy_failed = (
        not math.isfinite(evaluation.metric)
        or not gate.passes(evaluation.metric)
        or evaluation.extra.get("nearest_neighbour_agreement", 1.0) < 1.0
    )
    return accuracy_failed and not too_big


def quantizable_nodes(candidate: str, fp32_path: Path) -> list[ExcludedNode]:
    """The nodes `candidate`'s quantizer would quantize, in graph order, by the names it matches."""
    import onnx
    from onnxruntime.quantization.onnx_model import ONNXModel
    from onnxruntime.quantization.registry import IntegerOpsRegistry, QDQRegistry, QLinearOpsRegistry

    model = onnx.load(str(fp32_path))
    dynamic = candidate in DYNAMIC_CANDIDATES
    if dynamic:
        rewritten = ONNXModel(model)
        rewritten.replace_gemm_with_matmul()
        model = rewritten.model
        op_types = set(IntegerOpsRegistry)
    else:
        op_types = set(QDQRegistry) | set(QLinearOpsRegistry)
    constants = {init.name for init in model.graph.initializer}
    constants |= {out for node in model.graph.node if node.op_type == "Constant" for out in node.output}
    nodes = []
    for node in model.graph.node:
        if not node.name or node.op_type not in op_types:
            continue
        if dynamic and node.op_type == "MatMul" and node.input[1] not in constants:
            continue
        nodes.append(ExcludedNode(name=node.name, op_type=node.op_type))
    return nodes


def output_error(outputs: dict[str, Array], reference: dict[str, Array]) -> float:
    """Sum over outputs of |out - ref|^2 / |ref|^2 (inf when an output is missing or non-finite)."""
    total = 0.0
    for name, want in reference.items():
        got = outputs.get(name)
        if got is None or got.shape != want.shape or not np.all(np.isfinite(got)):
            return math.inf
        expected = want.astype(np.float64)
        total += float(np.sum((got.astype(np.float64) - expected) ** 2)) / max(
            float(np.sum(expected**2)), 1e-30
        )
    return total


def rank_nodes(ctx: RepairContext, candidate: str, nodes: Sequence[ExcludedNode], work: Path) -> list[Ranked]:
    """Each node's sensitivity, worst first (stable sort: graph order breaks ties)."""
    ranked = []
    for index, node in enumerate(nodes):
        path = work / f"{candidate}.only-{index}.onnx"
        _quantize(ctx, candidate, path, NodeSelection(only=(node.name,)))
        error = output_error(_outputs(ctx, path), ctx.reference)
        path.unlink()
        ranked.append(Ranked(node, error if math.isfinite(error) else math.inf))
    return sorted(ranked, key=lambda r: -r.error)


@dataclass
class _Search:
    """Exponential then bisection search over k, the number of worst nodes kept in float."""

    ctx: RepairContext
    candidate: str
    ranked: list[Ranked]
    bound: int
    work: Path
    steps: int = 0

    def path(self, k: int) -> Path:
        return self.work / f"{self.candidate}.exclude-{k}.onnx"

    def passes(self, k: int) -> bool:
        path = self.path(k)
        exclude = tuple(r.node.name for r in self.ranked[:k])
        _quantize(self.ctx, self.candidate, path, NodeSelection(exclude=exclude))
        self.steps += 1
        gate = self.ctx.spec.gate
        _, _, reasons, _ = score(gate, _outputs(self.ctx, path), self.ctx.reference, self.ctx.labels)
        ratio = path.stat().st_size / self.ctx.fp32_bytes
        return not reasons and (gate.max_size_ratio is None or ratio <= gate.max_size_ratio)

    def smallest_passing(self) -> int | None:
        """The smallest k <= bound that passes (assuming more float never hurts), else None."""
        failed, k = 0, 1
        while not self.passes(min(k, self.bound)):
            failed = min(k, self.bound)
            if failed == self.bound:
                return None
            k *= 2
        passed = min(k, self.bound)
        while passed - failed > 1:
            middle = (failed + passed) // 2
            if self.passes(middle):
                passed = middle
            else:
                failed = middle
        return passed


@dataclass(frozen=True)
class Repaired:
    evaluation: Evaluation
    info: RepairInfo


def repair_candidate(ctx: RepairContext, base: Evaluation, work: Path, progress: Progress) -> Repaired | None:
    """Search, then gate, the repaired `base`; None when the graph has nothing to keep in float."""
    name = base.name + REPAIRED_SUFFIX
    with progress.step(f"repair {base.name} (rank nodes, search exclusions)") as p:
        nodes = quantizable_nodes(base.name, ctx.fp32_path)
        bound = ctx.spec.repair.max_excluded(len(nodes))
        if bound == 0:
            p.detail = "no quantizable nodes"
            return None
        started = time.perf_counter()
        ranked = rank_nodes(ctx, base.name, nodes, work)
        search = _Search(ctx, base.name, ranked, bound, work)
        k = search.smallest_passing()
        p.detail = (
            f"{len(nodes)} quantizable nodes ranked, {search.steps} search step(s), "
            + (f"{k} kept in float" if k is not None else f"bound of {bound} reached without a pass")
            + f", search {time.perf_counter() - started:.2f} s"
        )
    kept = k if k is not None else bound
    path = work / f"{name}.onnx"
    search.path(kept).replace(path)
    with progress.step(f"gate {name}") as p:
        evaluation = evaluate(
            ctx.spec,
            name,
            path,
            feeds=ctx.feeds,
            reference=ctx.reference,
            labels=ctx.labels,
            fp32_bytes=ctx.fp32_bytes,
        )
        excluded = [r.node for r in ranked[:kept]]
        verdict = "pass" if evaluation.passed else "FAIL " + "; ".join(evaluation.reasons)
        p.detail = (
            f"{ctx.spec.gate.metric} {base.metric:.4f} -> {evaluation.metric:.4f} with "
            f"{', '.join(n.name for n in excluded)} in float, {evaluation.bytes:,} bytes "
            f"({evaluation.bytes / ctx.fp32_bytes:.2f}x fp32), "
            f"p50 {evaluation.latency_ms_p50:.3f} ms, {verdict}"
        )
    info = RepairInfo(
        base=base.name,
        excluded=excluded,
        quantizable_nodes=len(nodes),
        max_excluded=bound,
        metric_before=base.metric,
        bytes_before=base.bytes,
    )
    return Repaired(evaluation, info)


def repair_failing(
    ctx: RepairContext, evaluations: list[Evaluation], work: Path, progress: Progress
) -> tuple[list[Evaluation], dict[str, RepairInfo]]:
    """Every evaluation, each repaired candidate right after its base; the repairs by candidate name."""
    result: list[Evaluation] = []
    repairs: dict[str, RepairInfo] = {}
    for evaluation in evaluations:
        result.append(evaluation)
        if not needs_repair(ctx.spec.gate, evaluation):
            continue
        repaired = repair_candidate(ctx, evaluation, work, progress)
        if repaired is not None:
            result.append(repaired.evaluation)
            repairs[repaired.evaluation.name] = repaired.info
    return result, repairs


def repair_lines(manifest: Manifest) -> list[str]:
    """Summary lines: per repaired candidate, the nodes kept in float and the numbers before -> after."""
    lines = []
    for candidate in manifest.candidates:
        info = candidate.repair
        if info is None:
            continue
        nodes = ", ".join(f"{n.name} ({n.op_type})" for n in info.excluded)
        lines.append(
            f"{manifest.model}: {candidate.name} {'passed' if candidate.passed else 'failed'}, "
            f"{len(info.excluded)}/{info.quantizable_nodes} nodes in float [{nodes}]: "
            f"{manifest.gate.metric} {info.metric_before:.4f} -> {candidate.metric:.4f}, "
            f"{info.bytes_before:,} -> {candidate.bytes:,} bytes"
        )
    return lines


def _quantize(ctx: RepairContext, candidate: str, path: Path, nodes: NodeSelection) -> None:
    quantize(
        candidate,
        ctx.fp32_path,
        path,
        preset=ctx.preset,
        calibration=ctx.calibration,
        spec=ctx.spec,
        nodes=nodes,
    )


def _outputs(ctx: RepairContext, path: Path) -> dict[str, Array]:
    return run_session(open_session(path, threads=1), ctx.feeds, ctx.spec)
