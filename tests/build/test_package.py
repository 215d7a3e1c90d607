"""Manifest schema, determinism of two builds, and atomic writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from fnkit_build.exceptions import PackageError
from fnkit_build.package import write_model_dir
from fnkit_build.pipeline import BuildOptions, build_models
from fnkit_build.registry import load_registry
from fnkit_runtime.manifest import SCHEMA_VERSION, load_manifest, verify_artifact

MEASURED = ("created_at", "latency_ms_p50")
"""Fields that are measurements of the build run, not functions of its inputs."""


def _without_measurements(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_measurements(v) for k, v in value.items() if k not in MEASURED}
    if isinstance(value, list):
        return [_without_measurements(v) for v in value]
    return value


@pytest.fixture
def cnn_registry(write_registry: Callable[[str], Path], templates: Any) -> Any:
    return load_registry(write_registry(templates.cnn))


def test_two_builds_give_identical_bytes_and_manifest(cnn_registry: Any, tmp_path: Path) -> None:
    # GIVEN the same registry and factory
    # WHEN built twice into two output roots
    first = build_models(cnn_registry, ["cnn"], BuildOptions(out=tmp_path / "a"))[0].model_dir
    second = build_models(cnn_registry, ["cnn"], BuildOptions(out=tmp_path / "b"))[0].model_dir

    # THEN the artifact bytes are identical and the manifests differ only in measured fields
    assert (first / "model.onnx").read_bytes() == (second / "model.onnx").read_bytes()
    one = json.loads((first / "manifest.json").read_text())
    two = json.loads((second / "manifest.json").read_text())
    assert one["created_at"] and one["candidates"][0]["latency_ms_p50"] > 0
    assert _without_measurements(one) == _without_measurements(two)

    # AND the manifest follows the schema, matches its artifact, and its goldens reproduce
    manifest = load_manifest(first)
    assert manifest.schema_version == SCHEMA_VERSION
    path = verify_artifact(manifest, first)
    assert manifest.artifact.opset >= 17 and manifest.artifact.onnxruntime_version == ort.__version__
    assert [t.name for t in manifest.signature.inputs] == ["img"]
    assert manifest.signature.inputs[0].shape == ["batch", 1, 6, 6]
    assert manifest.labels == ["a", "b", "c", "d"]
    assert {c.name for c in manifest.candidates} == {"fp32", "int8-static-qdq"}
    assert manifest.gate.metric == "accuracy_drop" and manifest.function.memory_mb == 512
    session = ort.InferenceSession(str(path))
    assert len(manifest.golden) == 2
    for golden in manifest.golden:
        pixels = np.asarray(golden.request["inputs"], dtype=np.float32)
        (logits,) = session.run(None, {"img": pixels})
        np.testing.assert_allclose(logits, golden.outputs["logits"], atol=golden.atol, rtol=golden.rtol)
    assert sorted(p.name for p in first.iterdir()) == ["manifest.json", "model.onnx"]
    assert [p.name for p in first.parent.iterdir()] == ["model"]


def test_failed_write_leaves_the_previous_build_in_place(cnn_registry: Any, tmp_path: Path) -> None:
    # GIVEN a complete earlier build
    result = build_models(cnn_registry, ["cnn"], BuildOptions(out=tmp_path / "out"))[0]
    before = {p.name: p.read_bytes() for p in result.model_dir.iterdir()}

    # WHEN a new write fails half-way (its artifact source vanished)
    with pytest.raises(PackageError, match="nothing changed"):
        write_model_dir(tmp_path / "out", result.manifest, tmp_path / "gone.onnx", {})

    # THEN the earlier build is untouched and no staging folder is left behind
    assert {p.name: p.read_bytes() for p in result.model_dir.iterdir()} == before
    assert [p.name for p in result.model_dir.parent.iterdir()] == ["model"]
