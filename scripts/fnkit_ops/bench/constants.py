"""Benchmark defaults: run counts, shapes, the memory grid and the report's file names."""

from __future__ import annotations

from typing import Final

from fnkit_ops.bench.sampling import Sampling

VARIANT_TORCH: Final = "torch-eager-fp32"
VARIANT_ONNX_FP32: Final = "onnx-fp32"
VARIANT_SHIPPED: Final = "onnx-shipped"
VARIANT_FLOOR: Final = "onnx-floor"
"""The bare handler (`bench/floor/`): the least any function serving the artifact does."""
VARIANTS: Final = (VARIANT_TORCH, VARIANT_ONNX_FP32, VARIANT_SHIPPED, VARIANT_FLOOR)

ADAPTIVE_COLD: Final = Sampling(min_runs=7, max_runs=30, rel_halfwidth=0.05, budget_s=15.0)
"""Cold starts per variant by default: until the median's 95 % interval is within ±5 % (7 at least),
or 15 s of cold starts (3 at least: the torch baseline's take seconds each), or 30."""
ADAPTIVE_WARM: Final = Sampling(min_runs=20, max_runs=5000, rel_halfwidth=0.05, budget_s=1.0)
"""Warm calls per (variant, threads, batch, handler | raw), same rule, 1 s budget per figure (warm-up
calls stop at a tenth of it)."""
DEFAULT_COLD_RUNS: Final = 5
"""`--full`: fresh processes per variant for the cold start (median reported)."""
DEFAULT_WARM_RUNS: Final = 200
"""`--full`: timed warm calls per (variant, threads, batch) after warm-up."""
QUICK_COLD_RUNS: Final = 2
QUICK_WARM_RUNS: Final = 20
WARMUP_CALLS: Final = 10
IMPORT_TABLE_VARIANTS: Final = (VARIANT_SHIPPED, VARIANT_FLOOR)
"""Variants whose imports the report breaks down by package."""
IMPORT_TIME_RUNS: Final = 3
"""`python -X importtime` runs per variant for the report's import table (median per package)."""

BATCH_SIZES: Final = (1, 8)
THREAD_COUNTS: Final = (1, 2)

MEMORY_SIZES_MB: Final = (
    128,
    256,
    512,
    768,
    1024,
    1536,
    1769,
    2048,
    3008,
    3538,
    4096,
    5120,
    6144,
    7168,
    8192,
    10240,
)
"""Lambda memory sizes the recommendation evaluates (1769 = 1 vCPU, 3538 = 2 vCPUs)."""
DEFAULT_COLD_FRACTION: Final = 0.01
"""Share of requests assumed to hit a cold start when estimating latency and cost."""
DEFAULT_BALANCED_WEIGHT: Final = 0.5
"""Weight of cost against latency in the balanced choice (0 = latency only, 1 = cost only)."""
MEMORY_HEADROOM: Final = 1.2
"""A memory size is feasible when it is at least this multiple of the measured peak memory."""
LATENCY_TIE_TOLERANCE: Final = 0.01
"""Sizes within 1 % of the fastest count as equally fast; the cheapest of them is 'best latency'."""

BENCH_JSON: Final = "bench.json"
REPORT_MD: Final = "report.md"
CHART_PNG: Final = "bench.png"
BENCH_SCHEMA_VERSION: Final = 2
"""2: the floor variant, sample counts and median intervals, the import table, SnapStart costs."""

BASELINE_REQUIREMENTS: Final = ("torch==2.13.0", "numpy==2.4.6")
"""The torch baseline's task root: the torch CPU wheel (pip takes it from the local wheel folder)."""
BASELINE_TEXT_REQUIREMENTS: Final = ("transformers==5.24.0", "tokenizers==0.23.3")
"""Added for text models: the typical transformers + torch deployment."""
