"""Warm-latency worker: runs inside a task root, in a fresh process, isolated from the dev venv.

Started by `fnkit_ops.bench.warm` as `python -S -P worker.py SPEC.json RESULT.json`: `-S` keeps the
venv's site-packages (torch, fnkit_build) off `sys.path`, `-P` keeps this file's folder off it, and
the task root is the only extra entry, as in Lambda. Standard library at the top; everything else is
imported from the task root.

For each batch size it times the handler end to end (a direct invocation, as Lambda calls it) and the
raw model call on the same inputs: the onnxruntime session's `run` for fnkit's function and the
floor, the torch module's forward under `inference_mode` for the baseline. Each figure is sampled
until its median is known well enough (`sampling.py`, loaded from beside this file). Writes the
samples (ms) as JSON.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _sampling_module() -> Any:
    """`sampling.py` from beside this file (the task root cannot import fnkit_ops)."""
    spec = importlib.util.spec_from_file_location(
        "fnkit_bench_sampling", Path(__file__).with_name("sampling.py")
    )
    if spec is None or spec.loader is None:
        raise SystemExit("sampling.py is missing beside the worker")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


class FakeContext:
    """The attributes of Lambda's context object that handlers and powertools read."""

    def __init__(self, function_name: str, memory_mb: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _time_calls(call: Callable[[], Any], sampling: Any, warmup: int) -> list[float]:
    """Timed calls after `warmup` untimed ones (fewer, 2 at least, once a tenth of the figure's budget
    is spent), until `sampling` says the median is known."""
    warm_until = time.perf_counter() + sampling.budget_s / 10
    for index in range(warmup):
        call()
        if index >= 1 and time.perf_counter() > warm_until:
            break
    samples: list[float] = []
    spent = 0.0
    while True:
        started = time.perf_counter()
        call()
        took = time.perf_counter() - started
        spent += took
        samples.append(took * 1000)
        if (len(samples) % 10 == 0 or took > 0.02) and sampling.done(samples, spent):
            return samples
        if len(samples) >= sampling.max_runs:
            return samples


def _onnx_raw(inputs: Any) -> Callable[[], Any]:
    """`session.run` on the handler's own session (same options), fed as the handler feeds it.

    Text: the handler's tokenization outside the timing, then its calls (the manifest's execution).
    """
    from fnkit_runtime.batching import run_items
    from fnkit_runtime.codec import decode_tensors
    from fnkit_runtime.session import holder

    model = holder.model()
    encoder = model.encoder
    if encoder is not None and not isinstance(inputs, dict):
        encoded = encoder.encode([inputs] if isinstance(inputs, str) else list(inputs), truncate=True)
        return lambda: run_items(
            model.run, encoded.rows, encoded.lengths, model.execution, encoder.pad_values
        )
    else:
        feeds = decode_tensors(inputs, model.manifest.signature.inputs)
    session, names = model.session, model.output_names
    return lambda: session.run(names, feeds)


def _floor_raw(handler_module: Any, inputs: Any) -> Callable[[], Any]:
    session, feeds = handler_module.SESSION, handler_module.prepare(inputs)
    return lambda: session.run(None, feeds)


def _torch_raw(handler_module: Any, inputs: Any) -> Callable[[], Any]:
    model = handler_module.MODEL
    prepared = model.prepare(inputs)
    return lambda: model.infer(prepared)


def _peak_rss_mib() -> float:
    """VmHWM: this process's peak RSS (ru_maxrss would carry the parent's over exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _check(response: Any) -> None:
    if not isinstance(response, dict) or "outputs" not in response:
        raise SystemExit(f"handler did not answer with outputs: {str(response)[:300]}")


def main(spec_path: str, result_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    sys.path.insert(0, spec["task_root"])
    module_name, func_name = spec["handler"].rsplit(".", 1)
    module = importlib.import_module(module_name)
    handler = getattr(module, func_name)
    context = FakeContext(spec["function_name"], int(spec["memory_mb"]))
    sampling = _sampling_module().Sampling(**spec["sampling"])
    warmup = int(spec["warmup"])
    raw_of = {"torch": _torch_raw, "floor": _floor_raw}.get(spec["kind"])
    results: dict[str, Any] = {}
    for batch, event in spec["events"].items():
        _check(handler(event, context))
        handler_ms = _time_calls(functools.partial(handler, event, context), sampling, warmup)
        raw = raw_of(module, event["inputs"]) if raw_of else _onnx_raw(event["inputs"])
        raw_ms = _time_calls(raw, sampling, warmup)
        results[batch] = {"handler_ms": handler_ms, "raw_ms": raw_ms}
    peak_mb = _peak_rss_mib()
    Path(result_path).write_text(json.dumps({"batches": results, "peak_rss_mb": peak_mb}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
