"""Bench fixtures: a price table and synthetic measured variants (no model, no timing)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fnkit_ops.bench.constants import VARIANT_FLOOR, VARIANT_ONNX_FP32, VARIANT_SHIPPED, VARIANT_TORCH
from fnkit_ops.bench.prices import ArchPrice, PriceTable
from fnkit_ops.bench.results import ColdStart, VariantResult, WarmLatency
from fnkit_ops.bench.stats import LatencyStats


@pytest.fixture
def prices() -> PriceTable:
    return PriceTable(
        source="test table",
        region="test-1",
        architectures={
            "x86_64": ArchPrice(gb_second_usd=0.00002, request_usd=0.0000002),
            "arm64": ArchPrice(gb_second_usd=0.00001, request_usd=0.0000002, relative_latency=1.5),
        },
    )


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write UTF-8 text to tmp_path/<name> and return its path (a user's price table or registry)."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def stats(p50: float, p99: float | None = None) -> LatencyStats:
    return LatencyStats(runs=10, p50_ms=p50, p99_ms=p99 if p99 is not None else p50 * 1.5, mean_ms=p50)


def make_variant(
    variant: str,
    *,
    cold_ms: float,
    footprint: int,
    handler_ms: dict[int, float],
    raw_ms: dict[int, float],
    peak_mb: float = 100.0,
) -> VariantResult:
    """A measured variant with batch-1 latencies per thread count (batch 8 = 8x)."""
    warm = []
    for threads, ms in handler_ms.items():
        for batch in (1, 8):
            warm.append(WarmLatency(threads, batch, stats(ms * batch), stats(raw_ms[threads] * batch)))
    cold = ColdStart(
        runs=3,
        total_ms=cold_ms,
        import_ms=cold_ms * 0.6,
        load_ms=cold_ms * 0.3,
        first_inference_ms=cold_ms * 0.1,
        max_memory_mb=peak_mb,
        samples_total_ms=[cold_ms] * 3,
    )
    return VariantResult(
        model="m",
        variant=variant,
        detail=f"{variant} detail",
        artifact_bytes=footprint // 100,
        footprint_bytes=footprint,
        metric_name="accuracy",
        metric_value=0.98,
        cold=cold,
        warm=warm,
        peak_memory_mb=peak_mb,
    )


# (variant, cold ms, footprint bytes, handler batch-1 ms per thread count, raw batch-1 ms, peak MB)
VARIANTS = (
    (VARIANT_TORCH, 2000.0, 900_000_000, {1: 20.0, 2: 12.0}, {1: 19.0, 2: 11.0}, 300.0),
    (VARIANT_ONNX_FP32, 300.0, 170_000_000, {1: 8.0, 2: 5.0}, {1: 7.5, 2: 4.5}, 100.0),
    (VARIANT_SHIPPED, 200.0, 120_000_000, {1: 2.05, 2: 1.36}, {1: 2.0, 2: 1.3}, 100.0),
    (VARIANT_FLOOR, 190.0, 119_000_000, {1: 2.01, 2: 1.31}, {1: 2.0, 2: 1.3}, 100.0),
)


@pytest.fixture
def variants() -> list[VariantResult]:
    return [
        make_variant(variant, cold_ms=cold, footprint=footprint, handler_ms=handler, raw_ms=raw, peak_mb=peak)
        for variant, cold, footprint, handler, raw, peak in VARIANTS
    ]
