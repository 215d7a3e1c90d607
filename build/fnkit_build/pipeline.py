"""Orchestration: registry entry -> export -> parity -> quantize -> gate -> optimize -> verify on the
target CPU classes -> package.

With an `optimizer` table, fused-graph candidates (`fnkit_build.fused`) join the quantized ones
before the gate. After optimization the shipped file is checked once more for batch invariance
under the execution the manifest records, on the function's own session settings.

Progress goes to the progress sink (`fnkit_build.progress`, stderr) at each step with its time, so a
user sees where the time goes; the run ends with a summary table on `BuildOptions.stream` (stdout).
Work files live in a temporary folder; only `package` touches the output, and only after every gate
has passed.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from fnkit_runtime.manifest import Manifest, RepairInfo
from fnkit_runtime.vocabulary import Candidate, Metric

from fnkit_build.buildreport import make_build_report, write_build_report
from fnkit_build.cpus import target_preset
from fnkit_build.exceptions import GateError
from fnkit_build.export import export_onnx, opset_of
from fnkit_build.factory import load_bundle
from fnkit_build.fused import export_torchscript, fuse, quantize_fused
from fnkit_build.gate import Evaluation, choose, evaluate
from fnkit_build.golden import ServedRequest, golden_samples, served_golden_feeds, text_encoder
from fnkit_build.inference import open_served_session, open_session, run_session, run_torch
from fnkit_build.invariance import check_invariance
from fnkit_build.optimize import optimize_offline
from fnkit_build.package import make_manifest, write_model_dir
from fnkit_build.parity import check_parity
from fnkit_build.progress import Progress
from fnkit_build.project import cache_dir
from fnkit_build.quantize import check_calibration, quantize
from fnkit_build.registry import ModelSpec, Registry
from fnkit_build.repair import RepairContext, repair_failing, repair_lines
from fnkit_build.serving import FUSED_FP32, FUSED_PREFIX, session_optimizers_off
from fnkit_build.types import Array, ModelBundle
from fnkit_build.verify import Verification, VerifyInputs, check_targets, golden_tolerances, skipped, verify


@dataclass(frozen=True)
class BuildOptions:
    out: Path
    quantize: bool = True
    optimize: bool = True
    repair: bool = True
    """Repair failing int8 candidates (`fnkit_build.repair`) where the registry allows it."""
    verify_cpus: bool = True
    """Run the chosen artifact on every target CPU class (emulated); off: a warning in the manifest."""
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    """Where the summary table goes (progress lines go to the progress sink)."""


@dataclass(frozen=True)
class BuildResult:
    model_dir: Path
    manifest: Manifest
    fp32: Evaluation
    chosen: Evaluation
    seconds: float
    verification: Verification


def build_models(registry: Registry, names: Sequence[str], options: BuildOptions) -> list[BuildResult]:
    """Build the named models (all when empty), stop at the first failure, print a summary."""
    specs = registry.select(names)
    results = [build_model(spec, options) for spec in specs]
    print(summary_table(results), file=options.stream, flush=True)
    return results


def build_model(spec: ModelSpec, options: BuildOptions) -> BuildResult:
    started = time.perf_counter()
    progress = Progress(spec.name)
    candidates = spec.quantization if options.quantize else ()
    with progress.step("factory") as p:
        bundle = load_bundle(spec)
        p.detail = spec.factory
    if any(candidate.needs_calibration for candidate in candidates):
        check_calibration(spec, bundle.calibration)
    golden_feeds = served_golden_feeds(spec, bundle)
    if options.verify_cpus:
        with progress.step("target CPU classes") as p:
            check_targets(spec, cache_dir(spec.source))
            p.detail = ", ".join(spec.function.cpus)
    with tempfile.TemporaryDirectory(prefix=f"fnkit-build-{spec.name}-") as tmp:
        work = Path(tmp)
        fp32_path = work / "fp32.onnx"
        with progress.step("export (torch.onnx, dynamic axes checked)") as p:
            export_onnx(bundle.module, bundle.example_inputs, spec, fp32_path)
            p.detail = f"{fp32_path.stat().st_size:,} bytes, opset {opset_of(fp32_path)}"
        with progress.step("torch reference on the evaluation set"):
            reference = run_torch(bundle.module, bundle.eval_inputs, spec)
        with progress.step("parity ONNX fp32 vs torch") as p:
            fp32_out = run_session(open_session(fp32_path, threads=1), bundle.eval_inputs, spec)
            diffs = check_parity(spec.name, fp32_out, reference, spec.tolerance, "ONNX Runtime fp32")
            p.detail = ", ".join(f"{d.name} max abs {d.max_abs:.2g}" for d in diffs)
        quantized = _quantize_all(spec, candidates, fp32_path, bundle, progress)
        fused_files: dict[str, Path] = {}
        fused_ops: dict[str, dict[str, int]] = {}
        if spec.optimizer is not None and options.quantize:
            fused_files, fused_ops = _fused_all(spec, reference, work, progress)
        # fused candidates first: near-ties (the choice's 20% margin on a short single item) go to the
        # fused graph, whose advantage grows with sequence length (1.4x at 256 tokens for MiniLM)
        files = {Candidate.FP32.value: fp32_path, **fused_files, **quantized}
        evaluations = _gate_all(spec, files, bundle, reference, progress, fused_ops=fused_ops)
        repairs: dict[str, RepairInfo] = {}
        if options.repair and spec.repair.enabled:
            context = RepairContext(
                spec,
                fp32_path,
                bundle.eval_inputs,
                reference,
                bundle.eval_labels,
                bundle.calibration,
                target_preset(spec.function.architecture, spec.function.cpus),
            )
            # the repair's node search re-quantizes the plain fp32 graph: fused candidates stay as gated
            fused = [e for e in evaluations if e.name.startswith(FUSED_PREFIX)]
            plain = [e for e in evaluations if not e.name.startswith(FUSED_PREFIX)]
            plain, repairs = repair_failing(context, plain, work, progress)
            evaluations = [*plain[:1], *fused, *plain[1:]]
        verify_inputs = VerifyInputs(
            bundle.eval_inputs,
            reference,
            bundle.eval_labels,
            [(served.rows, served.lengths) for served in golden_feeds],
            cache_dir(spec.source),
            _pad_values(spec, bundle),
        )
        chosen, artifact, optimized, verification, evaluations = _choose_verified(
            spec,
            evaluations=evaluations,
            fp32_path=fp32_path,
            bundle=bundle,
            inputs=verify_inputs,
            options=options,
            progress=progress,
        )
        with progress.step("package") as p:
            extra = {}
            if spec.text is not None and bundle.tokenizer_dir is not None:
                extra[spec.text.tokenizer_file] = bundle.tokenizer_dir / spec.text.tokenizer_file
            manifest = _manifest(
                spec,
                artifact,
                optimized=optimized,
                chosen=chosen,
                evaluations=evaluations,
                golden_requests=bundle.golden_requests,
                golden_feeds=golden_feeds,
                extra_files=extra,
                repairs=repairs,
                pad_values=_pad_values(spec, bundle),
                verification=verification,
            )
            model_dir = write_model_dir(options.out, manifest, artifact, extra)
            write_build_report(model_dir, make_build_report(manifest, evaluations, verification))
            p.detail = f"{model_dir} ({manifest.artifact.bytes:,} bytes, sha256 {manifest.model_version})"
    seconds = time.perf_counter() - started
    return BuildResult(model_dir, manifest, evaluations[0], chosen, seconds, verification)


def _choose_verified(
    spec: ModelSpec,
    *,
    evaluations: list[Evaluation],
    fp32_path: Path,
    bundle: ModelBundle,
    inputs: VerifyInputs,
    options: BuildOptions,
    progress: Progress,
) -> tuple[Evaluation, Path, bool, Verification, list[Evaluation]]:
    """Choose, optimize and verify on the target CPU classes; a failing class rejects the candidate
    like the gate does (with the class named) and the choice is made again, fp32 included."""
    while True:
        chosen = choose(spec, evaluations)
        assert chosen.execution is not None, "choose() only returns batch-invariant candidates"
        progress.say(f"chosen: {chosen.name} (execution {chosen.execution})")
        artifact, optimized = chosen.path, False
        if options.optimize:
            artifact, optimized = _optimize(spec, chosen, fp32_path, bundle, progress)
        with progress.step("batch invariance of the shipped file") as p:
            p.detail = _check_shipped_invariance(spec, chosen, artifact, optimized, bundle)
        if not options.verify_cpus:
            progress.say(f"WARNING: {skipped(spec).warning}; the manifest says so")
            return chosen, artifact, optimized, skipped(spec), evaluations
        with progress.step(f"verify {chosen.name} on {', '.join(spec.function.cpus)}") as p:
            verification = verify(
                spec, artifact, optimized=optimized, execution=chosen.execution, inputs=inputs
            )
            p.detail = _verification_detail(spec, verification)
        if verification.passed:
            return chosen, artifact, optimized, verification, evaluations
        progress.say(f"{chosen.name} rejected: {'; '.join(verification.failures)}")
        rejected = dataclasses.replace(
            chosen, passed=False, reasons=(*chosen.reasons, *verification.failures)
        )
        evaluations = [rejected if e is chosen else e for e in evaluations]


def _verification_detail(spec: ModelSpec, verification: Verification) -> str:
    parts = [
        f"{run.cpu} {spec.gate.metric} {run.metric:.4f} golden max abs {run.golden_max_abs:.2g} "
        f"{'pass' if run.passed else 'FAIL'} ({run.seconds:.1f} s)"
        for run in verification.runs
    ]
    return "; ".join(parts)


def _quantize_all(
    spec: ModelSpec, candidates: Sequence[Candidate], fp32_path: Path, bundle: ModelBundle, progress: Progress
) -> dict[str, Path]:
    preset = target_preset(spec.function.architecture, spec.function.cpus)
    if candidates:
        progress.say(f"quantization preset: {preset.reason}")
    files: dict[str, Path] = {}
    for name in candidates:
        with progress.step(f"quantize {name}") as p:
            target = fp32_path.with_name(f"{name}.onnx")
            files[name] = quantize(
                name, fp32_path, target, preset=preset, calibration=bundle.calibration, spec=spec
            )
            p.detail = f"{target.stat().st_size:,} bytes"
    return files


def _pad_values(spec: ModelSpec, bundle: ModelBundle) -> dict[str, int] | None:
    encoder = text_encoder(spec, bundle)
    return None if encoder is None else encoder.pad_values


def _fused_all(
    spec: ModelSpec, reference: dict[str, Array], work: Path, progress: Progress
) -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    """Export the optimizer's module, fuse it, check its parity, quantize it: the fused candidates."""
    decl = spec.optimizer
    assert decl is not None
    with progress.step("factory for the transformer optimizer") as p:
        fusable = load_bundle(spec, extra_args=decl.factory_args)
        p.detail = ", ".join(f"{k}={v!r}" for k, v in decl.factory_args.items()) or "no extra arguments"
    traced = work / "torchscript.onnx"
    with progress.step("export (TorchScript exporter, for fusion)") as p:
        export_torchscript(fusable.module, fusable.example_inputs, spec, traced)
        p.detail = f"{traced.stat().st_size:,} bytes"
    fused_path = work / f"{FUSED_FP32}.onnx"
    with progress.step(f"fuse (onnxruntime.transformers.optimizer, {decl.model_type})") as p:
        graph = fuse(traced, fused_path, decl, spec)
        p.detail = ", ".join(f"{count} {op}" for op, count in graph.operators.items())
    with progress.step("parity fused ONNX fp32 vs torch") as p:
        fused_out = run_session(open_session(fused_path, threads=1), fusable.eval_inputs, spec)
        diffs = check_parity(spec.name, fused_out, reference, spec.tolerance, "fused ONNX fp32")
        p.detail = ", ".join(f"{d.name} max abs {d.max_abs:.2g}" for d in diffs)
    files = {FUSED_FP32: fused_path}
    preset = target_preset(spec.function.architecture, spec.function.cpus)
    for name in decl.candidates[1:]:
        with progress.step(f"quantize {name}") as p:
            files[name] = quantize_fused(name, fused_path, work / f"{name}.onnx", preset=preset, spec=spec)
            p.detail = f"{files[name].stat().st_size:,} bytes"
    return files, {name: graph.operators for name in files}


def _check_shipped_invariance(
    spec: ModelSpec, chosen: Evaluation, artifact: Path, optimized: bool, bundle: ModelBundle
) -> str:
    """The file that ships, on the function's session settings, under the execution it records."""
    assert chosen.execution is not None, "choose() only returns batch-invariant candidates"
    session = open_served_session(artifact, optimized=optimized)
    result = check_invariance(
        spec, session, bundle.eval_inputs, _pad_values(spec, bundle), executions=[chosen.execution]
    )
    if not result.passed:
        raise GateError(f"model {spec.name!r}: the shipped file of {chosen.name} is {result.reason()}")
    return f"{chosen.execution}: max abs diff {result.max_abs[chosen.execution]:.2g}"


def _gate_all(
    spec: ModelSpec,
    files: dict[str, Path],
    bundle: ModelBundle,
    reference: dict[str, Array],
    progress: Progress,
    *,
    fused_ops: dict[str, dict[str, int]],
) -> list[Evaluation]:
    evaluations = []
    fp32_bytes = files[Candidate.FP32].stat().st_size
    pad_values = _pad_values(spec, bundle)
    for name, path in files.items():
        with progress.step(f"gate {name}") as p:
            evaluation = evaluate(
                spec,
                name,
                path,
                feeds=bundle.eval_inputs,
                reference=reference,
                labels=bundle.eval_labels,
                fp32_bytes=fp32_bytes,
                pad_values=pad_values,
                fused_operators=fused_ops.get(name),
            )
            evaluations.append(evaluation)
            verdict = "pass" if evaluation.passed else "FAIL " + "; ".join(evaluation.reasons)
            latency = f"p50 {evaluation.latency_ms_p50:.3f} ms"
            execution = f"execution {evaluation.execution}" if evaluation.execution else "no execution"
            p.detail = f"{spec.gate.metric} {evaluation.metric:.4f}, {latency}, {execution}, {verdict}"
    return evaluations


def _optimize(
    spec: ModelSpec, chosen: Evaluation, fp32_path: Path, bundle: ModelBundle, progress: Progress
) -> tuple[Path, bool]:
    with progress.step("offline optimization") as p:
        max_bytes = None
        if spec.gate.max_size_ratio is not None:
            max_bytes = int(spec.gate.max_size_ratio * fp32_path.stat().st_size)
        outcome = optimize_offline(
            chosen.path,
            fp32_path.with_name("optimized.onnx"),
            spec,
            feeds=bundle.eval_inputs,
            tolerance=spec.tolerance,
            max_bytes=max_bytes,
            disabled=session_optimizers_off(spec.optimizer, chosen.name),
        )
        p.detail = outcome.note
    return outcome.path, outcome.optimized


def _manifest(
    spec: ModelSpec,
    artifact: Path,
    *,
    optimized: bool,
    chosen: Evaluation,
    evaluations: list[Evaluation],
    golden_requests: list[dict[str, Any]],
    golden_feeds: list[ServedRequest],
    extra_files: dict[str, Path],
    repairs: dict[str, RepairInfo],
    pad_values: dict[str, int] | None,
    verification: Verification,
) -> Manifest:
    import onnxruntime

    assert chosen.execution is not None, "choose() only returns batch-invariant candidates"
    tolerances = golden_tolerances(
        spec,
        verification,
        quantized=chosen.name not in (Candidate.FP32, FUSED_FP32),
        samples=len(golden_feeds),
    )
    golden = golden_samples(
        spec,
        artifact,
        golden_requests,
        golden_feeds,
        tolerances,
        optimized=optimized,
        execution=chosen.execution,
        pad_values=pad_values,
        outputs=verification.golden_outputs,
    )
    return make_manifest(
        spec,
        artifact,
        opset=opset_of(artifact),
        onnxruntime_version=onnxruntime.__version__,
        optimized=optimized,
        chosen=chosen,
        evaluations=evaluations,
        golden=golden,
        verification=verification,
        tokenizer=extra_files.get(spec.text.tokenizer_file) if spec.text is not None else None,
        repairs=repairs,
    )


def summary_table(results: Sequence[BuildResult]) -> str:
    """Size, metric and latency fp32 -> chosen per model."""
    header = (
        "model",
        "variant",
        "size fp32 → chosen",
        "metric fp32 → chosen",
        "p50 ms fp32 → chosen",
        "build s",
    )
    rows = [header]
    for r in results:
        gate = r.manifest.gate
        rows.append(
            (
                r.manifest.model,
                r.chosen.name + (" (optimized)" if r.manifest.artifact.optimized else ""),
                f"{_kb(r.fp32.bytes)} → {_kb(r.manifest.artifact.bytes)}",
                f"{Metric(gate.metric).raw_name} {gate.fp32_metric:.4f} → {gate.chosen_metric:.4f}",
                f"{r.fp32.latency_ms_p50:.3f} → {r.chosen.latency_ms_p50:.3f}",
                f"{r.seconds:.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    repaired = [line for r in results for line in repair_lines(r.manifest)]
    if repaired:
        lines += ["", "repaired candidates (nodes kept in float)", *repaired]
    return "\nsummary\n" + "\n".join(lines)


def _kb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} KB"
