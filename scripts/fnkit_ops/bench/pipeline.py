"""`fnkit bench`: prepare each variant, measure it, compare, recommend a memory size, write reports."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fnkit_build.progress import Progress
from fnkit_runtime.manifest import write_atomic

from fnkit_ops.bench import constants as k
from fnkit_ops.bench.agreement import check_rie_agreement
from fnkit_ops.bench.chart import write_chart
from fnkit_ops.bench.cold import ColdCell, measure_cold_starts
from fnkit_ops.bench.exceptions import BenchError
from fnkit_ops.bench.importtime import import_table
from fnkit_ops.bench.machine import batch_events, machine_info
from fnkit_ops.bench.memory import memory_choices, memory_grid, snapstart_costs
from fnkit_ops.bench.plan import BenchOptions, VariantPlan
from fnkit_ops.bench.registry_edit import write_memory_size
from fnkit_ops.bench.report import render_report
from fnkit_ops.bench.results import BenchRun, ColdStart, ModelBench, VariantResult
from fnkit_ops.bench.targets import check_targets
from fnkit_ops.bench.warm import WarmSpec, run_worker


def measure_warm(
    plan: VariantPlan,
    cold: ColdStart,
    events: dict[int, dict[str, Any]],
    options: BenchOptions,
    progress: Progress,
) -> VariantResult:
    """Warm latency at each thread count (a fresh worker process each), with the measured cold start."""
    progress(f"  {plan.variant}: {plan.task_root.total_bytes / 1e6:.0f} MB task root; warm latency")
    warm, peaks = [], [cold.max_memory_mb]
    spec = WarmSpec(
        plan.task_root.path, plan.config, plan.kind, events, options.warm_sampling, options.warmup
    )
    for threads in k.THREAD_COUNTS:
        latencies, peak = run_worker(spec, threads, options.out)
        runs = ", ".join(f"b{w.batch} {w.handler.runs}/{w.raw.runs}" for w in latencies)
        progress(f"    {threads} thread(s): handler/raw samples {runs}")
        warm += latencies
        peaks.append(peak)
    return VariantResult(
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


SAME_MODEL_PAIRS = ((k.VARIANT_TORCH, k.VARIANT_ONNX_FP32), (k.VARIANT_FLOOR, k.VARIANT_SHIPPED))
"""Variants that must answer alike: the torch baseline and ONNX fp32 (same model), the floor and the
shipped function (same artifact and session options)."""


def check_same_model(model: str, answers: dict[str, dict[str, Any]], atol: float = 1e-3) -> None:
    """Each pair of `SAME_MODEL_PAIRS` must answer the same request alike, or the bench compares
    different things."""
    import numpy as np

    for left, right in SAME_MODEL_PAIRS:
        left_answer, right_answer = answers.get(left), answers.get(right)
        if left_answer is None or right_answer is None:
            continue
        for name, expected in right_answer["outputs"].items():
            actual = left_answer["outputs"].get(name)
            if actual is None or np.shape(actual) != np.shape(expected):
                raise BenchError(f"{model}: {left}'s output {name!r} differs in shape from {right}'s")
            diff = float(np.max(np.abs(np.asarray(actual) - np.asarray(expected))))
            if diff > atol:
                raise BenchError(
                    f"{model}: {left} and {right} disagree on {name!r} (max abs diff {diff:.3g}); "
                    "the benchmark would compare different models"
                )


def _shipped_grid(results: list[VariantResult], options: BenchOptions) -> list[dict[str, Any]]:
    shipped = next((r for r in results if r.variant == k.VARIANT_SHIPPED), None)
    return memory_grid(shipped, options.prices, options.cold_fraction) if shipped else []


def bench_model(name: str, options: BenchOptions, workdir: Path, progress: Progress) -> ModelBench:
    from fnkit_ops.bench.prepare import prepare_variants

    progress = progress.under(name)
    progress("preparing variants")
    plans, manifest = prepare_variants(name, options, workdir / name, progress)
    events = batch_events(manifest, k.BATCH_SIZES)
    progress(f"cold starts, interleaved ({', '.join(p.variant for p in plans)})")
    cells = [
        ColdCell(p.variant, p.task_root.path, events[min(events)], p.config, p.load_at_init) for p in plans
    ]
    colds = measure_cold_starts(cells, options.cold_sampling, progress)
    answers = {plan.variant: colds[plan.variant][1] for plan in plans}
    results = [measure_warm(plan, colds[plan.variant][0], events, options, progress) for plan in plans]
    check_same_model(name, answers)
    shipped = next(plan for plan in plans if plan.variant == k.VARIANT_SHIPPED)
    progress(f"  {shipped.variant}: the same batch events under AWS's Runtime Interface Emulator")
    agreement = check_rie_agreement(
        name, shipped.task_root.path, shipped.config, manifest.function.architecture, list(events.values())
    )
    by_variant = {plan.variant: plan for plan in plans}
    memory = memory_choices(results, options.prices, options.cold_fraction)
    return ModelBench(
        model=name,
        registry_memory_mb=manifest.function.memory_mb,
        registry_architecture=manifest.function.architecture,
        variants=results,
        targets=check_targets(name, results),
        memory=memory,
        grid=_shipped_grid(results, options),
        rie_agreement=agreement,
        imports=import_table(
            [
                (v, by_variant[v].task_root.path, by_variant[v].config)
                for v in k.IMPORT_TABLE_VARIANTS
                if v in by_variant
            ]
        ),
        snapstart=snapstart_costs(results, memory, options.prices),
    )


def write_outputs(run: BenchRun, out: Path) -> list[Path]:
    data = json.dumps(asdict(run), indent=2, sort_keys=True) + "\n"
    write_atomic(out / k.BENCH_JSON, data.encode("utf-8"))
    write_atomic(out / k.REPORT_MD, render_report(run).encode("utf-8"))
    chart = write_chart(run, out / k.CHART_PNG)
    return [out / k.BENCH_JSON, out / k.REPORT_MD, chart]


def run_bench(options: BenchOptions, progress: Progress) -> BenchRun:
    started = time.monotonic()
    load_before = os.getloadavg()[0]
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
        machine={
            **machine_info(),
            "load_1min_start": round(load_before, 2),
            "load_1min_end": round(os.getloadavg()[0], 2),
        },
        wall_s=round(time.monotonic() - started, 1),
        settings={
            "cold_sampling": options.cold_sampling.to_dict(),
            "warm_sampling": options.warm_sampling.to_dict(),
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
                progress.under(model.model)(f"memory_mb = {choice.memory_mb} written to {options.registry}")
    return run
