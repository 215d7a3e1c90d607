"""The smoke test's golden samples against the real handler: the shipped models' own artifacts pass,
another model's artifact behind the same manifest (same signature, so it loads and answers) fails.

The goldens' tolerances are the ones `fnkit build` derived from the spread measured across the
target CPU classes (tests/conftest.py builds the shipped models with verification on).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fnkit_ops.promote.smoke import load_golden, run_smoke
from fnkit_runtime.manifest import load_manifest, sha256_file, write_atomic
from onnx import helper

from .conftest import FakeLambdaContext, digits_graph, text_graph

VERSION = "7"


class HandlerClient:
    """A LambdaClient whose `invoke` runs the real handler in this process (as version 7)."""

    def invoke(self, **request: Any) -> dict[str, Any]:
        from fnkit_runtime.app import handler

        body = handler(json.loads(request["Payload"]), FakeLambdaContext())
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode("utf-8"))}


def _serve(monkeypatch: pytest.MonkeyPatch, model: str, model_dir: Path) -> None:
    monkeypatch.setenv("FNKIT_MODEL_NAME", model)
    monkeypatch.setenv("FNKIT_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", VERSION)


def _swap_artifact(model_dir: Path, target: Path, artifact: bytes) -> Path:
    """A copy of `model_dir` whose manifest (goldens kept) describes another artifact's bytes."""
    shutil.copytree(model_dir, target)
    (target / "model.onnx").write_bytes(artifact)
    data = json.loads((target / "manifest.json").read_text())
    data["artifact"].update(sha256=sha256_file(target / "model.onnx"), bytes=len(artifact), optimized=False)
    write_atomic(target / "manifest.json", json.dumps(data).encode("utf-8"))
    return target


def _other_embedding_model(dim: int) -> bytes:
    """A bag-of-words encoder with minilm's inputs and output: loads, answers, and is another model."""
    rng = np.random.default_rng(3)
    graph = text_graph(rng.normal(size=(30522, dim)).astype(np.float32), np.zeros((2, dim), np.float32))
    graph.graph.node[-1].output[0] = "sentence_embedding"
    del graph.graph.output[:]
    graph.graph.output.append(
        helper.make_tensor_value_info("sentence_embedding", 1, ["batch", dim])  # 1 = FLOAT
    )
    return bytes(graph.SerializeToString())


@pytest.mark.parametrize("model", ["digits", "minilm"])
def test_shipped_artifacts_pass_their_goldens_through_the_handler(
    built_models: Path, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a shipped model as built (verified on its target CPU classes) behind the real handler
    model_dir = built_models / model / "model"
    manifest = load_manifest(model_dir)
    _serve(monkeypatch, model, model_dir)

    # WHEN the promotion's smoke test replays its golden samples
    result = run_smoke(HandlerClient(), "fn", VERSION, load_golden(model_dir))

    # THEN every sample passes, and the tolerances came from the verification
    assert result.passed, result.failures
    assert manifest.cpus.verified and not manifest.cpus.warning
    assert set(manifest.cpus.targets) <= set(manifest.cpus.verified)
    if manifest.task == "embedding":
        assert all(g.cosine_min is not None and 0.99 < g.cosine_min < 1 for g in manifest.golden)


def test_smoke_test_fails_on_a_swapped_artifact(
    built_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN each shipped model's folder with another model's artifact of the same signature
    rng = np.random.default_rng(5)
    digits_other = digits_graph(rng.normal(size=(64, 10)).astype(np.float32), np.zeros(10, np.float32))
    swaps = {
        "digits": bytes(digits_other.SerializeToString()),
        "minilm": _other_embedding_model(384),
    }
    for model, artifact in swaps.items():
        swapped = _swap_artifact(built_models / model / "model", tmp_path / model / "model", artifact)
        _serve(monkeypatch, model, swapped)
        from fnkit_runtime.session import holder

        holder.reset()

        # WHEN the smoke test replays the manifest's goldens against it
        result = run_smoke(HandlerClient(), "fn", VERSION, load_golden(swapped))

        # THEN every sample fails on the outputs (it answered: no error, just the wrong numbers)
        assert not result.passed
        assert all(not d["passed"] for d in result.details), result.details
        problems = [p for d in result.details for p in d["problems"]]
        assert all("beyond atol" in p or "below the floor" in p for p in problems), problems
