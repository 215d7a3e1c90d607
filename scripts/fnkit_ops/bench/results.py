"""The benchmark's figures as dataclasses; `bench.json` is their `asdict`, the report reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fnkit_ops.bench.agreement import EmulatorAgreement
from fnkit_ops.bench.stats import LatencyStats


@dataclass(frozen=True)
class ColdStart:
    """Median over fresh processes, each through the local Lambda runtime to the first response."""

    runs: int
    total_ms: float
    """Process spawn to first response."""
    import_ms: float
    """Process start-up and the handler module's imports (Lambda's init phase)."""
    load_ms: float
    """Session or model load (the handler's ModelLoadTime); fnkit's runs in the background, beside
    the import and the first inference (see `cold`)."""
    first_inference_ms: float
    """The rest of the first invocation: request handling and the first run."""
    max_memory_mb: float
    samples_total_ms: list[float] = field(default_factory=list)
    ci_low_ms: float = 0.0
    """The total's median, 95 % interval (`sampling.median_interval`)."""
    ci_high_ms: float = 0.0

    @property
    def halfwidth(self) -> float:
        """Half the total's interval, as a fraction of the median."""
        return (self.ci_high_ms - self.ci_low_ms) / 2 / self.total_ms if self.total_ms > 0 else 0.0


@dataclass(frozen=True)
class WarmLatency:
    """Warm latency at one (threads, batch): through the handler and on the raw session."""

    threads: int
    batch: int
    handler: LatencyStats
    raw: LatencyStats
    overhead_ms: float = field(init=False)
    """Handler overhead: warm end-to-end handler p50 minus raw session p50."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "overhead_ms", self.handler.p50_ms - self.raw.p50_ms)


@dataclass(frozen=True)
class VariantResult:
    model: str
    variant: str
    """torch-eager-fp32 | onnx-fp32 | onnx-shipped | onnx-floor."""
    detail: str
    """What the variant is, e.g. the build candidate's name or the baseline's stack."""
    artifact_bytes: int
    footprint_bytes: int
    """Bytes of the task root the variant needs (dependencies, handler and model)."""
    metric_name: str
    metric_value: float
    cold: ColdStart | None
    warm: list[WarmLatency]
    peak_memory_mb: float = 0.0

    def warm_at(self, threads: int, batch: int) -> WarmLatency | None:
        for w in self.warm:
            if w.threads == threads and w.batch == batch:
                return w
        return None


@dataclass(frozen=True)
class TargetCheck:
    name: str
    description: str
    measured: float | None
    """The measured ratio or value; None when a variant it needs was not measured."""
    target: str
    passed: bool | None


@dataclass(frozen=True)
class MemoryChoice:
    variant: str
    architecture: str
    strategy: str
    memory_mb: int
    threads: int
    expected_ms: float
    warm_ms: float
    cold_ms: float
    cost_per_million_usd: float


@dataclass(frozen=True)
class ImportRow:
    """One top-level package's cumulative import time in a variant's task root (µs, median of runs)."""

    variant: str
    package: str
    microseconds: int


@dataclass(frozen=True)
class SnapStartCost:
    """SnapStart's charges at one memory size, beside what an on-demand cold start is billed."""

    architecture: str
    memory_mb: int
    cache_usd_per_month: float
    """Caching the snapshot of one published version for a 30-day month."""
    restore_usd_per_million: float
    """Restoring one million environments (restore latency itself is measurable on AWS only)."""
    on_demand_init_usd_per_million: float
    """Billing one million on-demand cold starts' init and first invocation, from the measured start."""


@dataclass(frozen=True)
class ModelBench:
    model: str
    registry_memory_mb: int
    registry_architecture: str
    variants: list[VariantResult]
    targets: list[TargetCheck]
    memory: list[MemoryChoice]
    grid: list[dict[str, Any]] = field(default_factory=list)
    """Every estimate of the memory model for the shipped variant (for bench.json only)."""
    rie_agreement: EmulatorAgreement | None = None
    """The shipped variant's answers under AWS's Runtime Interface Emulator vs fnkit's Runtime API."""
    imports: list[ImportRow] = field(default_factory=list)
    """Where the shipped function's and the floor's import time goes (`python -X importtime`)."""
    snapstart: list[SnapStartCost] = field(default_factory=list)
    """What SnapStart would cost for the shipped variant at its balanced memory sizes."""

    def variant(self, name: str) -> VariantResult | None:
        return next((v for v in self.variants if v.variant == name), None)


@dataclass(frozen=True)
class BenchRun:
    schema_version: int
    created_at: str
    command: str
    machine: dict[str, Any]
    settings: dict[str, Any]
    prices: dict[str, Any]
    models: list[ModelBench]
    wall_s: float = 0.0
    """The bench's wall time, preparation included (report writing excepted)."""
