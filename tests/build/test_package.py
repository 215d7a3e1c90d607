"""Manifest schema, determinism of two builds (the image's inputs), the build report, atomic writes."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from fnkit_build.buildreport import BUILD_REPORT_FILE, load_build_report
from fnkit_build.exceptions import PackageError
from fnkit_build.package import write_model_dir
from fnkit_build.pipeline import BuildOptions, build_models
from fnkit_build.registry import load_registry
from fnkit_runtime.manifest import SCHEMA_VERSION, load_manifest, verify_artifact

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def _image_copies(dockerfile: Path, model: str) -> list[str]:
    """The build-context paths the shared Dockerfile COPYs for `model` (its MODEL build argument)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text()).replace("${MODEL}", model)
    sources: list[str] = []
    for line in text.splitlines():
        words = shlex.split(line.split("#", 1)[0]) if line.strip().upper().startswith("COPY") else []
        sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (or `root` itself) by relative path, with its bytes."""
    if root.is_file():
        return {root.name: root.read_bytes()}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def cnn_registry(write_registry: Callable[[str], Path], templates: Any) -> Any:
    return load_registry(write_registry(templates.cnn))


def test_an_unchanged_rebuild_gives_the_same_image_inputs(cnn_registry: Any, tmp_path: Path) -> None:
    # GIVEN the same registry and factory
    # WHEN built twice into two output roots
    first = build_models(cnn_registry, ["cnn"], BuildOptions(out=tmp_path / "a"))[0].model_dir
    second = build_models(cnn_registry, ["cnn"], BuildOptions(out=tmp_path / "b"))[0].model_dir

    # THEN every file the Dockerfile copies out of the build output is byte-identical: the image's
    # inputs change only when the model or the code does, so SAM publishes no new version to canary
    copies = _image_copies(FUNCTIONS / "Dockerfile", "cnn")
    built = [c.rstrip("/") for c in copies if c.startswith("cnn/")]
    assert built == ["cnn/model"]
    one, two = _tree(tmp_path / "a" / built[0]), _tree(tmp_path / "b" / built[0])
    assert sorted(one) == ["manifest.json", "model.onnx"]
    assert one == two
    # AND the build's measurements are in the build report beside the copied folder, not in it
    manifest_text = (first / "manifest.json").read_text()
    assert "created_at" not in manifest_text and "latency_ms_p50" not in manifest_text
    assert sorted(p.name for p in first.parent.iterdir()) == [BUILD_REPORT_FILE, "model"]
    assert not any(c.rstrip("/") in {"cnn", f"cnn/{BUILD_REPORT_FILE}"} for c in copies)
    report, again = load_build_report(first), load_build_report(second)
    assert report.model == "cnn" and report.created_at
    assert report.artifact_sha256 == load_manifest(first).artifact.sha256 == again.artifact_sha256
    assert sorted(report.candidates) == ["fp32", "int8-static-qdq"]
    assert all(t.latency_ms_p50 > 0 for t in report.candidates.values())

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


def test_failed_write_leaves_the_previous_build_in_place(cnn_registry: Any, tmp_path: Path) -> None:
    # GIVEN a complete earlier build
    result = build_models(cnn_registry, ["cnn"], BuildOptions(out=tmp_path / "out"))[0]
    before = {p.name: p.read_bytes() for p in result.model_dir.iterdir()}

    # WHEN a new write fails half-way (its artifact source vanished)
    with pytest.raises(PackageError, match="nothing changed"):
        write_model_dir(tmp_path / "out", result.manifest, tmp_path / "gone.onnx", {})

    # THEN the earlier build is untouched and no staging folder is left behind
    assert {p.name: p.read_bytes() for p in result.model_dir.iterdir()} == before
    assert sorted(p.name for p in result.model_dir.parent.iterdir()) == [BUILD_REPORT_FILE, "model"]
