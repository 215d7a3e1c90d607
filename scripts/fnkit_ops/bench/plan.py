"""What `fnkit bench` is asked to do and what it prepares: its options and each variant's plan.

Their own module, so that `prepare` (which builds the plans, build side) and `pipeline` (which
measures them) both import it and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fnkit_ops.bench import constants as k
from fnkit_ops.bench.prices import PriceTable
from fnkit_ops.bench.sampling import Sampling
from fnkit_ops.invoke.process import FunctionConfig
from fnkit_ops.invoke.taskroot import TaskRoot


@dataclass(frozen=True)
class BenchOptions:
    models: tuple[str, ...]
    out: Path
    registry: Path
    artifacts: Path
    prices: PriceTable
    cold_sampling: Sampling = k.ADAPTIVE_COLD
    warm_sampling: Sampling = k.ADAPTIVE_WARM
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
    """onnx | floor | torch: what the worker times as the raw model call."""
    load_at_init: bool
    artifact_bytes: int
    metric_name: str
    metric_value: float
