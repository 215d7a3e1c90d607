"""Export a torch module to one self-contained ONNX file and prove its dynamic axes are dynamic.

Exporter choice: `torch.onnx.export(..., dynamo=True, external_data=False)`. The dynamo exporter is
torch's supported path (the TorchScript one is deprecated) and gives opset 20; `external_data=False`
keeps the weights inside the .onnx file, which the offline optimizer needs (an optimized file written
for a model with external weight data failed to load) and which makes the artifact one file to hash.
The exporter can silently specialize a dynamic axis to the example's size, so `assert_dynamic_axes`
checks the graph's declared dims *and* runs ONNX Runtime with every dynamic axis at another size.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from fnkit_runtime.manifest import TensorSpec

from fnkit_build.exceptions import DynamicAxisError, ExportError
from fnkit_build.registry import ModelSpec
from fnkit_build.types import Feeds, batch_size

TORCHSCRIPT_OPSET = 17
"""The TorchScript exporter's opset (the fused candidates' export: `fnkit_build.fused`)."""


def export_onnx(
    module: Any, example_inputs: Feeds, spec: ModelSpec, path: Path, *, dynamo: bool = True
) -> None:
    """Export `module` to `path`; run onnx.checker and the dynamic-axis assertion.

    `dynamo=False` takes the TorchScript exporter (opset 17, single file), whose graph
    onnxruntime's transformer optimizer can fuse.
    """
    import torch

    if batch_size(example_inputs) < 2:
        raise ExportError(
            f"model {spec.name!r}: example inputs have batch 1; use at least 2 so the exporter cannot "
            "specialize the batch axis to a constant"
        )
    names = [tensor.name for tensor in spec.inputs]
    args = tuple(torch.from_numpy(np.ascontiguousarray(example_inputs[name])) for name in names)
    dynamic_axes = {t.name: t.dynamic_axes for t in (*spec.inputs, *spec.outputs) if t.dynamic_axes}
    module.eval()
    try:
        with _quiet(), torch.no_grad():
            torch.onnx.export(
                module,
                args,
                str(path),
                input_names=names,
                output_names=[tensor.name for tensor in spec.outputs],
                dynamic_axes=dynamic_axes,
                verbose=False,
                **({"dynamo": True, "external_data": False} if dynamo else _TORCHSCRIPT),
            )
    except Exception as exc:
        raise ExportError(
            f"model {spec.name!r} cannot be exported with torch.onnx.export: {type(exc).__name__}: "
            f"{_first_line(exc)}. Make the forward pass traceable (no data-dependent Python control "
            "flow, tensors in and out) or simplify the failing operation."
        ) from exc
    strip_debug_metadata(path)
    check_onnx(path, spec.name)
    assert_dynamic_axes(path, spec, example_inputs)


_TORCHSCRIPT: dict[str, Any] = {"dynamo": False, "opset_version": TORCHSCRIPT_OPSET}


def strip_debug_metadata(path: Path) -> None:
    """Drop per-node debug metadata (stack traces with source paths and line numbers, FX node text).

    It would make the artifact's bytes depend on where and from which source lines the build ran,
    and it is of no use to the function.
    """
    import onnx

    model = onnx.load(str(path))
    for graph in (model.graph, *model.functions):
        _strip_nodes(graph.node)
    onnx.save(model, str(path))


def _strip_nodes(nodes: Any) -> None:
    for node in nodes:
        del node.metadata_props[:]
        node.doc_string = ""
        for attribute in node.attribute:
            for graph in (attribute.g, *attribute.graphs):
                _strip_nodes(graph.node)


def check_onnx(path: Path, model: str) -> None:
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:
        raise ExportError(
            f"model {model!r}: onnx.checker rejects the exported graph: {_first_line(exc)}. If an "
            "output name is reused, rename the output in the registry (the exporter names internal "
            "values after operations, e.g. 'embedding')."
        ) from exc


def assert_dynamic_axes(path: Path, spec: ModelSpec, example_inputs: Feeds) -> None:
    """Fail if any declared dynamic axis is fixed in the graph or does not follow the input sizes."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    problems: list[str] = []
    declared = {t.name: t for t in (*spec.inputs, *spec.outputs)}
    for value in (*graph.input, *graph.output):
        decl = declared.get(value.name)
        if decl is None:
            problems.append(f"graph has an undeclared tensor {value.name!r}")
            continue
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(decl.shape):
            problems.append(f"{value.name!r} has rank {len(dims)}, registry declares {len(decl.shape)}")
            continue
        for axis, axis_name in decl.dynamic_axes.items():
            if not dims[axis].dim_param:
                problems.append(
                    f"{value.name!r} axis {axis} ({axis_name}) is fixed at {dims[axis].dim_value}"
                )
    if not problems:
        problems = _run_with_other_sizes(path, spec, example_inputs)
    if problems:
        raise DynamicAxisError(
            f"model {spec.name!r}: the exported graph is not dynamic where the registry says so: "
            f"{'; '.join(problems)}. The exporter specialized an axis to the example's size; avoid "
            "hard-coded sizes (e.g. reshape(2, -1)) in forward and use an example batch of at least 2."
        )


def _run_with_other_sizes(path: Path, spec: ModelSpec, example_inputs: Feeds) -> list[str]:
    """Run the graph with every dynamic axis one longer and check each output follows the new sizes."""
    import onnxruntime as ort

    sizes = other_sizes(spec, example_inputs)
    feeds = {t.name: _resize(example_inputs[t.name], t, sizes) for t in spec.inputs}
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs = session.run([t.name for t in spec.outputs], feeds)
    except Exception as exc:
        return [f"ONNX Runtime rejects sizes {sizes}: {_first_line(exc)}"]
    problems = []
    for decl, out in zip(spec.outputs, outputs, strict=True):
        for axis, axis_name in decl.dynamic_axes.items():
            if axis_name in sizes and out.shape[axis] != sizes[axis_name]:
                got = out.shape[axis]
                problems.append(
                    f"output {decl.name!r} axis {axis} is {got} for {axis_name} {sizes[axis_name]}"
                )
    return problems


def other_sizes(spec: ModelSpec, example_inputs: Feeds) -> dict[str, int]:
    """Each declared dynamic axis (batch, sequence, time, ...) at one more than the example's size."""
    sizes: dict[str, int] = {}
    for tensor in spec.inputs:
        for axis, axis_name in tensor.dynamic_axes.items():
            sizes.setdefault(axis_name, int(example_inputs[tensor.name].shape[axis]) + 1)
    return sizes


def _resize(array: np.ndarray[Any, Any], decl: TensorSpec, sizes: dict[str, int]) -> np.ndarray[Any, Any]:
    """Grow each dynamic axis to the requested size by repeating its last slice (valid data, e.g. a pad)."""
    for axis, axis_name in decl.dynamic_axes.items():
        extra = sizes.get(axis_name, array.shape[axis]) - array.shape[axis]
        if extra > 0:
            last = np.take(array, [-1] * extra, axis=axis)
            array = np.concatenate([array, last], axis=axis)
    return array


def opset_of(path: Path) -> int:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next(int(op.version) for op in model.opset_import if op.domain in ("", "ai.onnx"))


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message, without terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
    return text[0] if text else type(exc).__name__


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's own progress lines and warnings; fnkit prints its own progress."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        sink = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
