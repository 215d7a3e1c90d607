"""The issue's targets as data, checked against measured ratios (reported pass/fail, never asserted)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fnkit_ops.bench.constants import VARIANT_FLOOR, VARIANT_ONNX_FP32, VARIANT_SHIPPED, VARIANT_TORCH
from fnkit_ops.bench.results import TargetCheck, VariantResult

Variants = dict[str, VariantResult]


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def _cold(variants: Variants, name: str) -> float | None:
    v = variants.get(name)
    return v.cold.total_ms if v and v.cold else None


def _footprint(variants: Variants, name: str) -> float | None:
    v = variants.get(name)
    return float(v.footprint_bytes) if v and v.footprint_bytes else None


def _raw_p50(variants: Variants, name: str, threads: int = 1, batch: int = 1) -> float | None:
    v = variants.get(name)
    w = v.warm_at(threads, batch) if v else None
    return w.raw.p50_ms if w else None


def _overhead(variants: Variants, name: str) -> float | None:
    v = variants.get(name)
    w = v.warm_at(1, 1) if v else None
    return w.overhead_ms if w else None


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    required: str
    measure: Callable[[Variants], float | None]
    passes: Callable[[float], bool]
    models: tuple[str, ...] | None = None
    """Models the issue sets this target for; None = every model."""


def _warm_speedup(name: str, slower: str, label: str, at_least: float) -> Target:
    """The shipped raw model's warm p50 at batch 1 against `slower`'s (the issue sets it for MiniLM)."""
    return Target(
        name,
        f"warm p50 batch 1, 1 thread, raw model: {label} / shipped",
        f">= {at_least:g}x",
        lambda v: _ratio(_raw_p50(v, slower), _raw_p50(v, VARIANT_SHIPPED)),
        lambda r: r >= at_least,
        models=("minilm",),
    )


TARGETS: tuple[Target, ...] = (
    Target(
        "cold-start",
        "cold start, torch baseline / shipped (median, fresh process to first response)",
        ">= 8x",
        lambda v: _ratio(_cold(v, VARIANT_TORCH), _cold(v, VARIANT_SHIPPED)),
        lambda r: r >= 8,
    ),
    Target(
        "footprint",
        "task-root bytes, shipped / torch baseline",
        "<= 1/6 (0.167)",
        lambda v: _ratio(_footprint(v, VARIANT_SHIPPED), _footprint(v, VARIANT_TORCH)),
        lambda r: r <= 1 / 6,
    ),
    _warm_speedup("latency-vs-torch", VARIANT_TORCH, "torch eager", 3),
    _warm_speedup("latency-vs-fp32", VARIANT_ONNX_FP32, "ONNX fp32", 2.5),
    Target(
        "cold-vs-floor",
        "cold start, shipped / bare floor (median, same run, interleaved)",
        "<= 1.10x",
        lambda v: _ratio(_cold(v, VARIANT_SHIPPED), _cold(v, VARIANT_FLOOR)),
        lambda r: r <= 1.10,
    ),
    Target(
        "handler-overhead",
        "shipped handler p50 - raw session p50, batch 1, 1 thread (ms)",
        "<= 0.10 ms",
        lambda v: _overhead(v, VARIANT_SHIPPED),
        lambda ms: ms <= 0.10,
        models=("digits",),
    ),
)


def check_targets(model: str, variants: list[VariantResult]) -> list[TargetCheck]:
    """Each target that applies to `model`; passed is None when a needed variant was not measured."""
    by_name = {v.variant: v for v in variants}
    checks = []
    for target in TARGETS:
        if target.models is not None and model not in target.models:
            continue
        measured = target.measure(by_name)
        passed = None if measured is None else target.passes(measured)
        checks.append(TargetCheck(target.name, target.description, measured, target.required, passed))
    return checks
