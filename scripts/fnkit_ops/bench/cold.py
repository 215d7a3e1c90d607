"""Cold starts through the local Lambda runtime (`fnkit invoke`'s runner), split into their parts.

Each run is a fresh process under awslambdaric answering one direct invocation. The split:
- import: Lambda's init duration (interpreter, runtime client, handler module), less the model load
  when the handler loads at import (the torch baseline, like the SAM templates);
- load: the handler's ModelLoadTime metric, read from its EMF output;
- first inference: the rest of the time to the first response (request hand-off, the first run and
  the response), so the three parts add up to the total.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fnkit_runtime.constants import METRIC_MODEL_LOAD_TIME

from fnkit_ops.bench.exceptions import BenchError
from fnkit_ops.bench.results import ColdStart
from fnkit_ops.bench.stats import median
from fnkit_ops.invoke.process import FunctionConfig

Progress = Callable[[str], None]


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


def measure_cold_start(
    task_root: Path,
    event: Mapping[str, Any],
    config: FunctionConfig,
    *,
    runs: int,
    load_at_init: bool,
    progress: Progress = print,
) -> tuple[ColdStart, dict[str, Any]]:
    """Median cold start over `runs` fresh processes (each part its own median); the first response."""
    totals, imports, loads, firsts, memory = [], [], [], [], []
    first_body: dict[str, Any] = {}
    for index in range(runs):
        cold, load, body = _one_cold_start(task_root, event, config)
        first_body = first_body or body
        import_ms = max(0.0, cold.init_ms - load) if load_at_init else cold.init_ms
        totals.append(cold.total_ms)
        imports.append(import_ms)
        loads.append(load)
        firsts.append(max(0.0, cold.total_ms - import_ms - load))
        memory.append(cold.max_memory_used_mb)
        progress(f"    cold start {index + 1}/{runs}: {cold.total_ms:.0f} ms")
    cold_start = ColdStart(
        runs=runs,
        total_ms=median(totals),
        import_ms=median(imports),
        load_ms=median(loads),
        first_inference_ms=median(firsts),
        max_memory_mb=max(memory),
        samples_total_ms=totals,
    )
    return cold_start, first_body
