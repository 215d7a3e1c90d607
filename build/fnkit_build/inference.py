"""Run a torch module or an ONNX file on a set of inputs, in batches, with the same output layout."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fnkit_build.registry import ModelSpec
from fnkit_build.types import Array, Feeds, batch_size, take

EVAL_BATCH = 64


def run_torch(module: Any, feeds: Feeds, spec: ModelSpec) -> dict[str, Array]:
    """The torch module's outputs (the reference), by registry output name."""
    import torch

    names = [tensor.name for tensor in spec.inputs]
    chunks: list[list[Array]] = []
    module.eval()
    with torch.no_grad():
        for start in range(0, batch_size(feeds), EVAL_BATCH):
            part = take(feeds, start, start + EVAL_BATCH)
            result = module(*(torch.from_numpy(np.ascontiguousarray(part[name])) for name in names))
            outputs = result if isinstance(result, (tuple, list)) else (result,)
            chunks.append([out.detach().cpu().numpy() for out in outputs])
    return _concat(chunks, spec)


def open_session(
    path: Path,
    threads: int = 1,
    optimized_path: Path | None = None,
    level: str = "all",
    disabled: Sequence[str] = (),
) -> Any:
    """An ONNX Runtime CPU session with fixed thread counts (1 by default, as Lambda's small sizes),
    without the graph transformers named in `disabled`."""
    import onnxruntime as ort

    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    return _session(path, threads, levels[level], optimized_path, disabled)


def open_served_session(path: Path, *, optimized: bool, threads: int = 1) -> Any:
    """A session at the graph level the function itself uses for this artifact (`fnkit_runtime`)."""
    from fnkit_runtime.session import graph_optimization_level

    return _session(path, threads, graph_optimization_level(optimized), None)


def _session(
    path: Path, threads: int, level: Any, optimized_path: Path | None, disabled: Sequence[str] = ()
) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = level
    if optimized_path is not None:
        options.optimized_model_filepath = str(optimized_path)
    return ort.InferenceSession(
        str(path),
        sess_options=options,
        providers=["CPUExecutionProvider"],
        **({"disabled_optimizers": list(disabled)} if disabled else {}),
    )


def run_session(session: Any, feeds: Feeds, spec: ModelSpec) -> dict[str, Array]:
    """An ONNX Runtime session's outputs, by registry output name."""
    names = [tensor.name for tensor in spec.outputs]
    chunks = []
    for start in range(0, batch_size(feeds), EVAL_BATCH):
        part = take(feeds, start, start + EVAL_BATCH)
        chunks.append(list(session.run(names, {t.name: part[t.name] for t in spec.inputs})))
    return _concat(chunks, spec)


def _concat(chunks: list[list[Array]], spec: ModelSpec) -> dict[str, Array]:
    if any(len(chunk) != len(spec.outputs) for chunk in chunks):
        raise ValueError(f"model returned {len(chunks[0])} outputs; registry declares {len(spec.outputs)}")
    return {
        tensor.name: np.concatenate([chunk[i] for chunk in chunks], axis=0)
        for i, tensor in enumerate(spec.outputs)
    }
