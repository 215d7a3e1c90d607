"""Warm latency: the worker (`worker.py`) in a fresh, isolated process per thread count."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnkit_runtime.constants import INTRA_OP_THREADS_ENV

from fnkit_ops.bench.exceptions import BenchError
from fnkit_ops.bench.results import WarmLatency
from fnkit_ops.bench.sampling import Sampling
from fnkit_ops.bench.stats import LatencyStats
from fnkit_ops.invoke.process import FunctionConfig, base_python, lambda_environment
from fnkit_ops.subprocesses import run_checked

WORKER = Path(__file__).with_name("worker.py")
_NO_RUNTIME_API = "127.0.0.1:9"
"""The worker calls the handler directly; no Runtime API is contacted."""


@dataclass(frozen=True)
class WarmSpec:
    task_root: Path
    config: FunctionConfig
    kind: str
    """onnx: raw = the handler's own onnxruntime session; floor: the floor's session; torch: raw = the
    module's forward."""
    events: Mapping[int, Mapping[str, Any]]
    """Batch size -> direct-invocation event."""
    sampling: Sampling
    warmup: int


def run_worker(spec: WarmSpec, threads: int, workdir: Path) -> tuple[list[WarmLatency], float]:
    """Warm latencies at each batch with `threads` intra-op threads; and the worker's peak RSS (MiB)."""
    config = spec.config
    task_root = spec.task_root.resolve()
    env = lambda_environment(task_root, _NO_RUNTIME_API, config)
    env[INTRA_OP_THREADS_ENV] = str(threads)
    with tempfile.TemporaryDirectory(dir=workdir.resolve(), prefix="warm-") as tmp:
        spec_path, result_path = Path(tmp, "spec.json"), Path(tmp, "result.json")
        payload = {
            "task_root": str(task_root),
            "handler": config.handler,
            "kind": spec.kind,
            "function_name": config.function_name,
            "memory_mb": config.memory_mb,
            "events": {str(b): dict(e) for b, e in spec.events.items()},
            "sampling": spec.sampling.to_dict(),
            "warmup": spec.warmup,
        }
        spec_path.write_text(json.dumps(payload), encoding="utf-8")
        python = config.python or base_python()
        with Path(tmp, "stdout.log").open("wb") as log:
            run_checked(
                [str(python), "-s", "-S", "-P", str(WORKER), str(spec_path), str(result_path)],
                BenchError,
                f"{config.function_name}: warm-latency worker failed ({threads} threads)",
                cwd=task_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
            )
        data = json.loads(result_path.read_text(encoding="utf-8"))
    latencies = [
        WarmLatency(
            threads=threads,
            batch=int(batch),
            handler=LatencyStats.of(samples["handler_ms"]),
            raw=LatencyStats.of(samples["raw_ms"]),
        )
        for batch, samples in sorted(data["batches"].items(), key=lambda item: int(item[0]))
    ]
    return latencies, float(data["peak_rss_mb"])
