"""Export and parity on tiny models, including the dynamic-axis assertion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
from fnkit_build.exceptions import DynamicAxisError, ExportError, ParityError
from fnkit_build.export import assert_dynamic_axes, export_onnx
from fnkit_build.factory import ModelBundle, load_bundle
from fnkit_build.inference import open_session, run_session, run_torch
from fnkit_build.parity import check_parity
from fnkit_build.registry import ModelSpec, Tolerance, load_registry

TinyLoader = Callable[..., tuple[ModelSpec, ModelBundle]]


@pytest.fixture
def tiny(write_registry: Callable[[str], Path], templates: Any) -> TinyLoader:
    """Load tiny classifier `name` (factory tiny_models.`factory`, templates.mlp options) and its bundle."""

    def load(name: str, factory: str, **options: str) -> tuple[ModelSpec, ModelBundle]:
        spec = load_registry(write_registry(templates.mlp(name, factory, **options))).models[name]
        return spec, load_bundle(spec)

    return load


def test_export_tiny_model_is_dynamic_and_matches_torch(tiny: TinyLoader, tmp_path: Path) -> None:
    # GIVEN a tiny classifier and its registry entry
    spec, bundle = tiny("mlp", "mlp")
    path = tmp_path / "mlp.onnx"

    # WHEN exported
    export_onnx(bundle.module, bundle.example_inputs, spec, path)

    # THEN the batch axis is a named dim, other batch sizes run, and outputs match torch
    session = ort.InferenceSession(str(path))
    assert session.get_inputs()[0].shape == ["batch", 8]
    for batch in (1, 7):
        out = session.run(None, {"x": bundle.eval_inputs["x"][:batch]})[0]
        assert out.shape == (batch, 4)
    diffs = check_parity(
        spec.name,
        run_session(open_session(path), bundle.eval_inputs, spec),
        run_torch(bundle.module, bundle.eval_inputs, spec),
        spec.tolerance,
        "fp32",
    )
    assert diffs[0].max_abs < 1e-5


def test_dynamic_axis_assertion_catches_a_graph_with_a_fixed_batch(tiny: TinyLoader, tmp_path: Path) -> None:
    # GIVEN a graph exported without dynamic axes: its batch is fixed at the example's 3
    spec, bundle = tiny("mlp", "mlp")
    path = tmp_path / "static.onnx"
    torch.onnx.export(
        bundle.module,
        (torch.from_numpy(bundle.example_inputs["x"]),),
        str(path),
        input_names=["x"],
        output_names=["logits"],
        dynamo=True,
        external_data=False,
    )

    # WHEN the assertion checks it against the registry's dynamic "batch" THEN it fails, naming the axis
    with pytest.raises(DynamicAxisError, match=r"'x' axis 0 \(batch\) is fixed at 3"):
        assert_dynamic_axes(path, spec, bundle.example_inputs)


def test_dynamic_axis_assertion_catches_a_specializing_forward(tiny: TinyLoader, tmp_path: Path) -> None:
    # GIVEN a module whose forward hard-codes the example batch (reshape(2, -1)), exported with dynamic axes
    spec, bundle = tiny("spec", "specialized", quantization="[]")

    # WHEN exported THEN the silent specialization is caught on the output
    with pytest.raises(DynamicAxisError, match="'logits' axis 0 \\(batch\\) is fixed at 2"):
        export_onnx(bundle.module, bundle.example_inputs, spec, tmp_path / "spec.onnx")


def test_example_batch_of_one_is_refused(tiny: TinyLoader, tmp_path: Path) -> None:
    spec, bundle = tiny("mlp", "mlp")
    with pytest.raises(ExportError, match="batch 1"):
        export_onnx(bundle.module, {"x": bundle.example_inputs["x"][:1]}, spec, tmp_path / "one.onnx")


def test_unexportable_model_is_an_export_error(tiny: TinyLoader, tmp_path: Path) -> None:
    # GIVEN a module with Python control flow on a tensor's value
    spec, bundle = tiny("dd", "unexportable", quantization="[]")

    # WHEN exported THEN one ExportError names the model and the exporter's reason
    with pytest.raises(ExportError, match="model 'dd' cannot be exported") as info:
        export_onnx(bundle.module, bundle.example_inputs, spec, tmp_path / "dd.onnx")
    assert "\x1b" not in str(info.value)


def test_parity_error_lists_every_failing_output_with_numbers() -> None:
    # GIVEN two outputs off by different amounts and one that matches
    expected = {
        "a": np.zeros((2, 3), np.float32),
        "b": np.ones((2, 2), np.float32),
        "c": np.ones(2, np.float32),
    }
    actual = {"a": expected["a"] + 0.5, "b": expected["b"] * 1.1, "c": expected["c"]}

    # WHEN compared THEN one error lists a and b with their max abs/rel differences, not c
    with pytest.raises(ParityError) as info:
        check_parity("m", actual, expected, Tolerance(atol=1e-4, rtol=1e-3), "fp32")
    message = str(info.value)
    assert "a: max abs 0.5" in message and "6/6 elements off" in message
    assert "b: max abs 0.1, max rel 0.1" in message
    assert "c:" not in message


def test_parity_passes_within_tolerance() -> None:
    expected = {"a": np.ones((4, 2), np.float32)}
    diffs = check_parity("m", {"a": expected["a"] + 5e-5}, expected, Tolerance(atol=1e-4, rtol=0), "fp32")
    assert diffs[0].ok and diffs[0].max_abs == pytest.approx(5e-5, rel=1e-2)
