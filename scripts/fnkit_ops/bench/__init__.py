"""`fnkit bench`: cold start, latency, footprint and accuracy of each model's variants side by side
(torch baseline, ONNX fp32, the built int8 artifact), and a memory-size recommendation."""

from __future__ import annotations

from fnkit_ops.bench.costmodel import Workload, cpu_share, estimate, estimate_grid, parallel_fraction
from fnkit_ops.bench.exceptions import BenchConfigError, BenchError, PriceTableError, RegistryEditError
from fnkit_ops.bench.prices import ArchPrice, PriceTable, load_prices
from fnkit_ops.bench.recommend import Recommendation, recommend

__all__ = [
    "ArchPrice",
    "BenchConfigError",
    "BenchError",
    "PriceTable",
    "PriceTableError",
    "Recommendation",
    "RegistryEditError",
    "Workload",
    "cpu_share",
    "estimate",
    "estimate_grid",
    "load_prices",
    "parallel_fraction",
    "recommend",
]
