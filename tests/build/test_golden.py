"""The optimized artifact and its golden outputs are checked the way the function will load them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from fnkit_build import golden, optimize
from fnkit_build.export import export_onnx
from fnkit_build.factory import load_bundle
from fnkit_build.registry import load_registry
from fnkit_build.runner import open_session
from fnkit_runtime.config import RuntimeConfig
from fnkit_runtime.session import session_options


def _spy(module: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, str]]:
    """Record (file, optimization level) of every session `module` opens."""
    calls: list[tuple[Path, str]] = []

    def spy(path: Path, threads: int = 1, optimized_path: Path | None = None, level: str = "all") -> Any:
        calls.append((Path(path), level))
        return open_session(path, threads, optimized_path, level)

    monkeypatch.setattr(module, "open_session", spy)
    return calls


def test_optimized_artifact_is_verified_and_golden_run_as_the_function_loads_it(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a tiny model exported to ONNX
    spec = load_registry(write_registry(templates.mlp("m", "mlp"))).models["m"]
    bundle = load_bundle(spec)
    source, target = tmp_path / "fp32.onnx", tmp_path / "optimized.onnx"
    export_onnx(bundle.module, bundle.example_inputs, spec, source)
    optimize_calls, golden_calls = _spy(optimize, monkeypatch), _spy(golden, monkeypatch)

    # WHEN it is optimized offline and its golden samples are recorded
    outcome = optimize.optimize_offline(
        source, target, spec, feeds=bundle.eval_inputs, tolerance=spec.tolerance, max_bytes=None
    )
    samples = golden.golden_samples(
        spec, target, bundle.golden_requests, bundle.golden_feeds, quantized=False, optimized=True
    )

    # THEN the optimized file is verified and run with no graph passes (the function's ORT_DISABLE_ALL)
    assert outcome.optimized
    assert (target, "disable") in optimize_calls
    assert golden_calls == [(target, "disable")]
    # AND the function's own session options reproduce the golden outputs
    config = RuntimeConfig(model_name="m", model_dir=tmp_path, intra_op_threads=1)
    options = session_options(config, SimpleNamespace(artifact=SimpleNamespace(optimized=True)))  # type: ignore[arg-type]
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(target), sess_options=options, providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"x": bundle.golden_feeds[0]["x"]})
    np.testing.assert_allclose(logits, samples[0].outputs["logits"], atol=1e-6)
