"""The optimized artifact and its golden outputs are checked the way the function will load them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from fnkit_build import golden, inference, optimize
from fnkit_build.export import export_onnx
from fnkit_build.factory import load_bundle
from fnkit_build.registry import load_registry
from fnkit_build.verify import GoldenTolerance
from fnkit_runtime.config import RuntimeConfig
from fnkit_runtime.session import session_options


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, Any]]:
    """Record (file, graph optimization level) of every session the build opens."""
    calls: list[tuple[Path, Any]] = []
    real = inference._session

    def spy(path: Path, threads: int, level: Any, optimized_path: Path | None, disabled: Any = ()) -> Any:
        calls.append((Path(path), level))
        return real(path, threads, level, optimized_path, disabled)

    monkeypatch.setattr(inference, "_session", spy)
    return calls


def test_optimized_artifact_is_verified_and_golden_run_as_the_function_loads_it(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a tiny model exported to ONNX
    spec = load_registry(write_registry(templates.mlp("m", "mlp"))).models["m"]
    bundle = load_bundle(spec)
    source, target = tmp_path / "fp32.onnx", tmp_path / "optimized.onnx"
    export_onnx(bundle.module, bundle.example_inputs, spec, source)
    calls = _spy(monkeypatch)

    # WHEN it is optimized offline and its golden samples are recorded
    outcome = optimize.optimize_offline(
        source, target, spec, feeds=bundle.eval_inputs, tolerance=spec.tolerance, max_bytes=None
    )
    optimize_calls = list(calls)
    calls.clear()
    served = golden.served_golden_feeds(spec, bundle)
    tolerances = [GoldenTolerance(1e-4, 1e-3, None)] * len(served)
    samples = golden.golden_samples(spec, target, bundle.golden_requests, served, tolerances, optimized=True)
    golden_calls = list(calls)

    # THEN the optimized file is verified and run with no graph passes (the function's ORT_DISABLE_ALL)
    assert outcome.optimized
    no_passes = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert (target, no_passes) in optimize_calls
    assert golden_calls == [(target, no_passes)]
    # AND the function's own session options reproduce the golden outputs
    config = RuntimeConfig(model_name="m", model_dir=tmp_path, intra_op_threads=1)
    options = session_options(config, SimpleNamespace(artifact=SimpleNamespace(optimized=True)))  # type: ignore[arg-type]
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(target), sess_options=options, providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"x": bundle.golden_feeds[0]["x"]})
    np.testing.assert_allclose(logits, samples[0].outputs["logits"], atol=1e-6)
