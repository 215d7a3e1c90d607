"""Text models at real shapes, side by side in one process, one thread (build side: imports torch).

Shapes: batch 1 short; 8 mixed (seven short texts and one of `max_length` tokens); 8 x `max_length`
tokens (eight different long texts). Variants:
- `onnx-shipped`: the built artifact through the function's own request path (`fnkit_runtime`
  `predict`: tokenization, the manifest's execution, output encoding), on its session settings;
- `onnx-fp32`: the build's exporter's fp32 graph, one padded batch;
- `torch-eager-fp32`: the factory's torch module, one padded batch;
- `fused-int8`: the registry's fused graph (`optimizer` table) with the optimizer's default fusions
  (whatever `optimizer.fusions` turns off for the shipped graph), per-channel dynamic int8, one padded
  batch at onnxruntime's default graph level (the path Optimum users get; only for models with an
  `optimizer` table).
Variants are timed in interleaved rounds (one call of each per round), so a change in the machine's
load hits all of them alike. Also measured: batch invariance through the shipped path (each mixed
item alone vs in the mixed request), and the issue's targets as ratios. Figures are medians; never
asserted in tests.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from fnkit_build.progress import Progress

SHORT = "Hello world"
SHAPES = ("1 short", "8 mixed", "8 x max_length")
VARIANT_FUSED = "fused-int8"
FAST_RUNS = 30
SLOW_RUNS = 7
"""Timed calls per (variant, shape): long shapes take ~0.2-0.7 s each on one thread."""


@dataclass(frozen=True)
class ShapeTiming:
    variant: str
    shape: str
    tokens: list[int]
    p50_ms: float
    samples_ms: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class ShapesResult:
    model: str
    shipped_variant: str
    shipped_execution: str
    shipped_fused_operators: dict[str, int]
    fused_int8_operators: dict[str, int]
    load_before: str
    load_after: str
    timings: list[ShapeTiming]
    invariance_max_abs: float
    """Shipped path: each item of the mixed request alone vs in it."""
    accuracy: dict[str, float]
    targets: dict[str, Any]

    def p50(self, variant: str, shape: str) -> float | None:
        return next((t.p50_ms for t in self.timings if t.variant == variant and t.shape == shape), None)


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])
    except OSError:
        return "unknown"


def long_text(sentences: list[str], start: int, count_tokens: Callable[[str], int], max_length: int) -> str:
    """Evaluation sentences from `start` on, joined until the text has more than `max_length` tokens."""
    text = ""
    index = start
    while count_tokens(text) <= max_length:
        text = f"{text} {sentences[index % len(sentences)]}".strip()
        index += 1
    return text


def shape_texts(
    sentences: list[str], count_tokens: Callable[[str], int], max_length: int
) -> dict[str, list[str]]:
    return {
        SHAPES[0]: [SHORT],
        SHAPES[1]: [*sentences[:7], long_text(sentences, 7, count_tokens, max_length)],
        SHAPES[2]: [long_text(sentences, start, count_tokens, max_length) for start in range(8)],
    }


def _time_interleaved(calls: dict[str, Callable[[], Any]], runs: int) -> dict[str, list[float]]:
    """Each call once to warm up, then `runs` rounds of one call each, so load changes hit all alike."""
    for call in calls.values():
        call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def _fused_int8(spec: Any, work: Path) -> tuple[Path, dict[str, int]]:
    from fnkit_build.cpus import target_preset
    from fnkit_build.factory import load_bundle
    from fnkit_build.fused import export_torchscript, fuse, quantize_fused

    # the optimizer's own defaults (the reference graph of issue 11), whatever fusions the registry turns off
    decl = replace(spec.optimizer, fusions={})
    bundle = load_bundle(spec, extra_args=decl.factory_args)
    export_torchscript(bundle.module, bundle.example_inputs, spec, work / "torchscript.onnx")
    graph = fuse(work / "torchscript.onnx", work / "fused.onnx", decl, spec)
    target = quantize_fused(
        "fused-int8-dynamic-per-channel",
        graph.path,
        work / "fused-int8.onnx",
        preset=target_preset(spec.function.architecture, spec.function.cpus),
        spec=spec,
    )
    return target, graph.operators


def measure_shapes(spec: Any, model_dir: Path, work: Path, progress: Progress) -> ShapesResult:
    """Every variant at every shape; the shipped one through the function's request path."""
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "fnkit-bench")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "fnkit-bench")
    import torch
    from fnkit_build.export import export_onnx
    from fnkit_build.factory import load_bundle
    from fnkit_build.inference import open_session
    from fnkit_runtime.config import RuntimeConfig
    from fnkit_runtime.predict import predict
    from fnkit_runtime.session import load_model

    load_before = _load()
    torch.set_num_threads(1)
    bundle = load_bundle(spec)
    sentences = _sentences(bundle, spec)
    model = load_model(RuntimeConfig(model_name=spec.name, model_dir=model_dir, intra_op_threads=1))
    assert model.encoder is not None, "shapes are measured for text models"
    encoder = model.encoder
    texts = shape_texts(
        sentences, lambda text: encoder.encode([text], truncate=True).tokens[0], spec.text.max_length
    )
    encoded = {shape: model.encoder.encode(items, truncate=True) for shape, items in texts.items()}
    padded = {
        shape: _padded(enc.rows, model.encoder.pad_values, [t.name for t in spec.inputs])
        for shape, enc in encoded.items()
    }
    work.mkdir(parents=True, exist_ok=True)
    progress("  shapes: exporting ONNX fp32 with the build's exporter")
    export_onnx(bundle.module, bundle.example_inputs, spec, work / "fp32.onnx")
    sessions = {"onnx-fp32": open_session(work / "fp32.onnx", threads=1)}
    fused_ops: dict[str, int] = {}
    if spec.optimizer is not None:
        progress("  shapes: fused graph (TorchScript export, transformer optimizer, per-channel int8)")
        path, fused_ops = _fused_int8(spec, work)
        sessions[VARIANT_FUSED] = open_session(path, threads=1)
    names = [t.name for t in spec.inputs]
    timings: list[ShapeTiming] = []
    for shape, items in texts.items():
        runs = FAST_RUNS if shape == SHAPES[0] else SLOW_RUNS
        tokens = [len(row["input_ids"][0]) for row in encoded[shape].rows]
        body = {"inputs": items, "truncate": True}
        calls: dict[str, Callable[[], Any]] = {
            "onnx-shipped": functools.partial(predict, model, body, "bench"),
            "torch-eager-fp32": _torch_call(bundle.module, padded[shape], names),
        }
        for variant, session in sessions.items():
            calls[variant] = functools.partial(session.run, None, padded[shape])
        for variant, samples in _time_interleaved(calls, runs).items():
            timings.append(ShapeTiming(variant, shape, tokens, statistics.median(samples), samples))
            progress(f"  shapes: {variant:18} {shape:15} p50 {timings[-1].p50_ms:8.2f} ms")
    invariance = _invariance(model, texts[SHAPES[1]])
    result = ShapesResult(
        model=spec.name,
        shipped_variant=model.manifest.variant,
        shipped_execution=model.manifest.execution,
        shipped_fused_operators=model.manifest.artifact.fused_operators,
        fused_int8_operators=fused_ops,
        load_before=load_before,
        load_after=_load(),
        timings=timings,
        invariance_max_abs=invariance,
        accuracy=_accuracy(model.manifest),
        targets={},
    )
    return replace(result, targets=shape_targets(result))


def _sentences(bundle: Any, spec: Any) -> list[str]:
    """Eight distinct short texts from the golden requests and the evaluation set's factory module."""
    import importlib

    module = importlib.import_module(spec.factory.partition(":")[0])
    sentences = list(getattr(module, "SENTENCES", ()))
    for request in bundle.golden_requests:
        inputs = request["inputs"]
        sentences += [inputs] if isinstance(inputs, str) else list(inputs)
    unique = list(dict.fromkeys(s for s in sentences if len(s) < 200))
    if len(unique) < 8:
        raise ValueError(f"model {spec.name!r}: need 8 distinct short texts, found {len(unique)}")
    return unique


def _padded(
    rows: list[dict[str, np.ndarray]], pad_values: dict[str, int], names: list[str]
) -> dict[str, Any]:
    from fnkit_runtime.batching import stack_rows

    stacked = stack_rows(rows, pad_values)
    return {name: stacked[name] for name in names}


def _torch_call(module: Any, feeds: dict[str, np.ndarray], names: list[str]) -> Callable[[], Any]:
    import torch

    args = [torch.from_numpy(feeds[name]) for name in names]

    def call() -> Any:
        with torch.no_grad():
            return module(*args)

    return call


def _invariance(model: Any, texts: list[str]) -> float:
    from fnkit_runtime.predict import predict

    together = predict(model, {"inputs": texts, "truncate": True}, "bench")["outputs"]
    worst = 0.0
    for index, text in enumerate(texts):
        alone = predict(model, {"inputs": [text], "truncate": True}, "bench")["outputs"]
        for name, rows in together.items():
            diff = np.max(np.abs(np.asarray(rows[index]) - np.asarray(alone[name][0])))
            worst = max(worst, float(diff))
    return worst


def _accuracy(manifest: Any) -> dict[str, float]:
    chosen = next(c for c in manifest.candidates if c.name == manifest.variant)
    return {"metric": chosen.metric, **chosen.extra}


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def shape_targets(result: ShapesResult) -> dict[str, Any]:
    """The issue's targets as measured ratios and pass/fail (reported, never asserted)."""
    long, mixed = SHAPES[2], SHAPES[1]
    vs_torch = _ratio(result.p50("onnx-shipped", long), result.p50("torch-eager-fp32", long))
    vs_fused = _ratio(result.p50("onnx-shipped", long), result.p50(VARIANT_FUSED, long))
    mixed_ratio = _ratio(result.p50("onnx-shipped", mixed), result.p50("onnx-shipped", long))
    return {
        "8xlong_shipped_over_torch": {
            "value": vs_torch,
            "target": "<= 0.5 (2x faster)",
            "met": _le(vs_torch, 0.5),
        },
        "8xlong_shipped_over_fused_int8": {"value": vs_fused, "target": "<= 1.0", "met": _le(vs_fused, 1.0)},
        "mixed_over_8xlong_shipped": {
            "value": mixed_ratio,
            "target": "<= 0.25",
            "met": _le(mixed_ratio, 0.25),
        },
        "batch_invariance_max_abs": {
            "value": result.invariance_max_abs,
            "target": "<= 1e-5",
            "met": result.invariance_max_abs <= 1e-5,
        },
        "cosine_mean_to_torch": {
            "value": result.accuracy.get("metric"),
            "target": ">= 0.99",
            "met": _le(0.99, result.accuracy.get("metric")),
        },
        "nearest_neighbour_agreement": {
            "value": result.accuracy.get("nearest_neighbour_agreement"),
            "target": "1.0",
            "met": result.accuracy.get("nearest_neighbour_agreement") == 1.0,
        },
    }


def _le(value: float | None, limit: float | None) -> bool | None:
    return None if value is None or limit is None else value <= limit


def render_shapes(result: ShapesResult) -> str:
    """A markdown section: p50 per variant and shape, then the targets."""
    variants = list(dict.fromkeys(t.variant for t in result.timings))
    lines = [
        f"## {result.model}: text shapes (1 thread, p50 ms)",
        "",
        f"Shipped: {result.shipped_variant}, execution {result.shipped_execution}, fused operators "
        f"{result.shipped_fused_operators or 'none'}; {VARIANT_FUSED}: fused operators "
        f"{result.fused_int8_operators or 'none'}, one padded batch. Load average (1/5/15 min) "
        f"before / after: {result.load_before} / {result.load_after}.",
        "",
        "| variant | " + " | ".join(SHAPES) + " |",
        "|---|" + "---|" * len(SHAPES),
    ]
    for variant in variants:
        cells = [f"{result.p50(variant, shape):.2f}" for shape in SHAPES]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    lines += ["", "| target | measured | wanted | met |", "|---|---|---|---|"]
    for name, target in result.targets.items():
        value = target["value"]
        shown = "n/a" if value is None else f"{value:.4g}"
        lines.append(f"| {name} | {shown} | {target['target']} | {target['met']} |")
    return "\n".join(lines) + "\n"


SHAPES_JSON = "shapes.json"
SHAPES_MD = "shapes.md"


def run_shapes(specs: list[Any], artifacts: Path, out: Path, progress: Progress) -> list[ShapesResult]:
    """Measure every text model among `specs` (built under `artifacts`); write shapes.json and .md."""
    import shutil

    from fnkit_runtime.manifest import write_atomic

    results = []
    for spec in specs:
        if spec.text is None:
            continue
        model = progress.under(spec.name)
        model("text shapes")
        work = out.resolve() / "work-shapes" / spec.name
        try:
            results.append(measure_shapes(spec, artifacts / spec.name / "model", work, model))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if results:
        data = json.dumps([asdict(r) for r in results], indent=2, sort_keys=True) + "\n"
        write_atomic(out / SHAPES_JSON, data.encode("utf-8"))
        write_atomic(out / SHAPES_MD, "\n".join(render_shapes(r) for r in results).encode("utf-8"))
        progress(f"wrote {out / SHAPES_JSON} and {out / SHAPES_MD}")
    return results
