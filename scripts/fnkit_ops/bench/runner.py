"""`fnkit bench`: prepare each variant, measure it, compare, recommend a memory size, write reports."""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fnkit_runtime.manifest import write_atomic

from fnkit_ops.bench import constants as k
from fnkit_ops.bench.agreement import check_rie_agreement
from fnkit_ops.bench.chart import write_chart
from fnkit_ops.bench.cold import measure_cold_start
from fnkit_ops.bench.exceptions import BenchError
from fnkit_ops.bench.machine import batch_events, machine_info
from fnkit_ops.bench.memory import memory_choices, memory_grid
from fnkit_ops.bench.prices import PriceTable
from fnkit_ops.bench.registry_edit import write_memory_size
from fnkit_ops.bench.report import render_report
from fnkit_ops.bench.results import BenchRun, ModelBench, VariantResult
from fnkit_ops.bench.targets import check_targets
from fnkit_ops.bench.warm import WarmSpec, run_worker
from fnkit_ops.invoke.process import FunctionConfig
from fnkit_ops.invoke.taskroot import TaskRoot

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    models: tuple[str, ...]
    out: Path
    registry: Path
    artifacts: Path
    prices: PriceTable
    cold_runs: int = k.DEFAULT_COLD_RUNS
    warm_runs: int = k.DEFAULT_WARM_RUNS
    warmup: int = k.WARMUP_CALLS
    skip_baseline: bool = False
    write_registry: bool = False
    cold_fraction: float = k.DEFAULT_COLD_FRACTION
    command: str = "fnkit bench"


@dataclass(frozen=True)
class VariantPlan:
    """A variant ready to measure: its task root, Lambda configuration and accuracy."""

    variant: str
    detail: str
    task_root: TaskRoot
    config: FunctionConfig
    kind: str
    """onnx | torch: what the worker times as the raw model call."""
    load_at_init: bool
    artifact_bytes: int
    metric_name: str
    metric_value: float


def measure_variant(
    plan: VariantPlan, events: dict[int, dict[str, Any]], options: BenchOptions, progress: Progress
) -> tuple[VariantResult, dict[str, Any]]:
    """Cold start, then warm latency at each thread count; returns the result and the first response."""
    progress(f"  {plan.variant}: {plan.task_root.total_bytes / 1e6:.0f} MB task root; cold starts")
    cold, first = measure_cold_start(
        plan.task_root.path,
        events[min(events)],
        plan.config,
        runs=options.cold_runs,
        load_at_init=plan.load_at_init,
        progress=progress,
    )
    warm, peaks = [], [cold.max_memory_mb]
    spec = WarmSpec(plan.task_root.path, plan.config, plan.kind, events, options.warm_runs, options.warmup)
    for threads in k.THREAD_COUNTS:
        progress(f"    warm latency, {threads} thread(s), batches {sorted(events)}")
        latencies, peak = run_worker(spec, threads, options.out)
        warm += latencies
        peaks.append(peak)
    result = VariantResult(
        model=plan.config.model or "",
        variant=plan.variant,
        detail=plan.detail,
        artifact_bytes=plan.artifact_bytes,
        footprint_bytes=plan.task_root.total_bytes,
        metric_name=plan.metric_name,
        metric_value=plan.metric_value,
        cold=cold,
        warm=warm,
        peak_memory_mb=max(peaks),
    )
    return result, first


def check_same_model(model: str, answers: dict[str, dict[str, Any]], atol: float = 1e-3) -> None:
    """The torch baseline and ONNX fp32 must answer the same request alike: same model, compared."""
    import numpy as np

    torch_answer, fp32_answer = answers.get(k.VARIANT_TORCH), answers.get(k.VARIANT_ONNX_FP32)
    if torch_answer is None or fp32_answer is None:
        return
    for name, expected in fp32_answer["outputs"].items():
        actual = torch_answer["outputs"].get(name)
        if actual is None or np.shape(actual) != np.shape(expected):
            raise BenchError(f"{model}: the torch baseline's output {name!r} differs in shape from ONNX fp32")
        diff = float(np.max(np.abs(np.asarray(actual) - np.asarray(expected))))
        if diff > atol:
            raise BenchError(
                f"{model}: the torch baseline and ONNX fp32 disagree on {name!r} (max abs diff {diff:.3g}); "
                "the benchmark would compare different models"
            )


def _shipped_grid(results: list[VariantResult], options: BenchOptions) -> list[dict[str, Any]]:
    shipped = next((r for r in results if r.variant == k.VARIANT_SHIPPED), None)
    return memory_grid(shipped, options.prices, options.cold_fraction) if shipped else []


def bench_model(name: str, options: BenchOptions, workdir: Path, progress: Progress) -> ModelBench:
    from fnkit_ops.bench.prepare import prepare_variants

    progress(f"{name}: preparing variants")
    plans, manifest = prepare_variants(name, options, workdir / name, progress)
    events = batch_events(manifest, k.BATCH_SIZES)
    results, answers = [], {}
    for plan in plans:
        result, answers[plan.variant] = measure_variant(plan, events, options, progress)
        results.append(result)
    check_same_model(name, answers)
    shipped = next(plan for plan in plans if plan.variant == k.VARIANT_SHIPPED)
    progress(f"  {shipped.variant}: the same batch events under AWS's Runtime Interface Emulator")
    agreement = check_rie_agreement(
        name, shipped.task_root.path, shipped.config, manifest.function.architecture, list(events.values())
    )
    return ModelBench(
        model=name,
        registry_memory_mb=manifest.function.memory_mb,
        registry_architecture=manifest.function.architecture,
        variants=results,
        targets=check_targets(name, results),
        memory=memory_choices(results, options.prices, options.cold_fraction),
        grid=_shipped_grid(results, options),
        rie_agreement=agreement,
    )


def write_outputs(run: BenchRun, out: Path) -> list[Path]:
    data = json.dumps(asdict(run), indent=2, sort_keys=True) + "\n"
    write_atomic(out / k.BENCH_JSON, data.encode("utf-8"))
    write_atomic(out / k.REPORT_MD, render_report(run).encode("utf-8"))
    chart = write_chart(run, out / k.CHART_PNG)
    return [out / k.BENCH_JSON, out / k.REPORT_MD, chart]


def run_bench(options: BenchOptions, progress: Progress = print) -> BenchRun:
    options.out.mkdir(parents=True, exist_ok=True)
    workdir = options.out.resolve() / "work"
    try:
        models = [bench_model(name, options, workdir, progress) for name in options.models]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    run = BenchRun(
        schema_version=k.BENCH_SCHEMA_VERSION,
        created_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        command=options.command,
        machine=machine_info(),
        settings={
            "cold_runs": options.cold_runs,
            "warm_runs": options.warm_runs,
            "cold_fraction": options.cold_fraction,
            "batches": list(k.BATCH_SIZES),
            "threads": list(k.THREAD_COUNTS),
        },
        prices=options.prices.to_dict(),
        models=models,
    )
    for path in write_outputs(run, options.out):
        progress(f"wrote {path}")
    from fnkit_build.registry import load_registry

    from fnkit_ops.bench.shapes import run_shapes

    run_shapes(
        load_registry(options.registry).select(options.models), options.artifacts, options.out, progress
    )
    if options.write_registry:
        for model in models:
            choice = next(
                (
                    m
                    for m in model.memory
                    if m.variant == k.VARIANT_SHIPPED
                    and m.strategy == "balanced"
                    and m.architecture == model.registry_architecture
                ),
                None,
            )
            if choice is not None and write_memory_size(options.registry, model.model, choice.memory_mb):
                progress(f"{model.model}: memory_mb = {choice.memory_mb} written to {options.registry}")
    return run
