"""Cold starts through the local Lambda runtime (`fnkit invoke`'s runner), split into their parts.

Each run is a fresh process under awslambdaric answering one direct invocation; the variants of a
model are sampled in interleaved rounds, each until its median is known well enough. The split:
- import: Lambda's init duration (interpreter, runtime client, handler module), less the model load
  when the handler loads at import (the torch baseline, like the SAM templates);
- load: the handler's ModelLoadTime metric, read from its EMF output;
- first inference: the rest of the time to the first response (request hand-off, the first run and
  the response).
For a handler that loads at import the three parts add up to the total. fnkit's function loads in a
background thread from import on (FNKIT_PREFETCH), so its load overlaps the other two: its import is
the whole init and its first inference the whole first invocation, waiting for the load included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnkit_build.progress import Progress
from fnkit_runtime.constants import METRIC_MODEL_LOAD_TIME

from fnkit_ops.bench.exceptions import BenchError
from fnkit_ops.bench.results import ColdStart
from fnkit_ops.bench.sampling import Sampling, median_interval
from fnkit_ops.bench.stats import median
from fnkit_ops.invoke.process import FunctionConfig


def model_load_ms(stdout: str) -> float | None:
    """The ModelLoadTime value of the first EMF document in `stdout` that carries one."""
    for line in stdout.splitlines():
        start = line.find("{")
        if start < 0 or '"_aws"' not in line:
            continue
        try:
            document = json.loads(line[start:])
        except ValueError:
            continue
        value = document.get(METRIC_MODEL_LOAD_TIME) if isinstance(document, dict) else None
        if isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, (int, float)):
            return float(value)
    return None


def _one_cold_start(
    task_root: Path, event: Mapping[str, Any], config: FunctionConfig
) -> tuple[Any, float, dict[str, Any]]:
    from fnkit_ops.invoke.runner import describe_error, run_invocations

    run = run_invocations(task_root, [event], config)
    result = run.invocations[0]
    body = result.response()
    if not result.ok or not isinstance(body, dict) or "outputs" not in body:
        detail = describe_error(result) if not result.ok else str(body)[:300]
        raise BenchError(f"{config.function_name}: the cold invocation failed: {detail}")
    if not run.cold_starts:
        raise BenchError(f"{config.function_name}: the runner recorded no cold start")
    load = model_load_ms(run.stdout)
    if load is None:
        raise BenchError(f"{config.function_name}: the handler printed no {METRIC_MODEL_LOAD_TIME} metric")
    return run.cold_starts[0], load, body


@dataclass(frozen=True)
class ColdCell:
    """One variant to cold-start: its task root, first event and configuration."""

    variant: str
    task_root: Path
    event: Mapping[str, Any]
    config: FunctionConfig
    load_at_init: bool


@dataclass
class _Samples:
    totals: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    firsts: list[float] = field(default_factory=list)
    memory: list[float] = field(default_factory=list)
    first_body: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def result(self) -> ColdStart:
        low, high = median_interval(self.totals)
        return ColdStart(
            runs=len(self.totals),
            total_ms=median(self.totals),
            import_ms=median(self.imports),
            load_ms=median(self.loads),
            first_inference_ms=median(self.firsts),
            max_memory_mb=max(self.memory),
            samples_total_ms=list(self.totals),
            ci_low_ms=low,
            ci_high_ms=high,
        )


def _sample(cell: ColdCell, samples: _Samples) -> float:
    started = time.monotonic()
    cold, load, body = _one_cold_start(cell.task_root, cell.event, cell.config)
    samples.elapsed_s += time.monotonic() - started
    samples.first_body = samples.first_body or body
    in_init = load if cell.load_at_init else 0.0  # a background load ran beside import and 1st inference
    import_ms = max(0.0, cold.init_ms - in_init)
    samples.totals.append(cold.total_ms)
    samples.imports.append(import_ms)
    samples.loads.append(load)
    samples.firsts.append(max(0.0, cold.total_ms - import_ms - in_init))
    samples.memory.append(cold.max_memory_used_mb)
    return float(cold.total_ms)


def measure_cold_starts(
    cells: list[ColdCell], sampling: Sampling, progress: Progress
) -> dict[str, tuple[ColdStart, dict[str, Any]]]:
    """Each variant's median cold start (each part its own median) and first response.

    Interleaved: every round cold-starts each variant still sampling once, in turn, so a change in the
    machine's load reaches every variant alike and their ratios hold. A variant stops by `sampling`.
    """
    samples = {cell.variant: _Samples() for cell in cells}
    active = list(cells)
    while active:
        for cell in list(active):
            cell_samples = samples[cell.variant]
            total = _sample(cell, cell_samples)
            progress(f"    {cell.variant}: cold start {len(cell_samples.totals)}: {total:.0f} ms")
            if sampling.done(cell_samples.totals, cell_samples.elapsed_s):
                active.remove(cell)
    return {name: (s.result(), s.first_body) for name, s in samples.items()}
