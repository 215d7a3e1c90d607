"""The shipped models end to end, through the session-wide `built_models` build (tests/conftest.py).

Numbers are recomputed here from the written artifacts (and the factories' own torch models), not
read back from the manifest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from fnkit_build.examples import digits, minilm
from fnkit_build.gate import accuracy, cosines, nearest_neighbours
from fnkit_runtime.batching import Execution, run_items, split_rows
from fnkit_runtime.manifest import Manifest, load_manifest, sha256_file, verify_artifact
from fnkit_runtime.session import graph_optimization_level


def _session(model_dir: Path) -> ort.InferenceSession:
    """The artifact at the graph level the function loads it with (no passes on an optimized file:
    passes at load could fuse again what the build kept unfused, e.g. minilm's SkipLayerNormalization)."""
    manifest = load_manifest(model_dir)
    options = ort.SessionOptions()
    options.graph_optimization_level = graph_optimization_level(manifest.artifact.optimized)
    return ort.InferenceSession(str(verify_artifact(manifest, model_dir)), sess_options=options)


def _served(
    session: ort.InferenceSession, manifest: Manifest, feeds: dict[str, np.ndarray]
) -> list[np.ndarray]:
    """Outputs of a padded token batch run item by item as the manifest's execution says."""
    names = [spec.name for spec in manifest.signature.outputs]
    lengths = [int(n) for n in feeds["attention_mask"].sum(axis=1)]

    def run(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(names, session.run(names, batch), strict=True))

    pad = {name: 0 for name in feeds}
    outputs = run_items(run, split_rows(feeds, lengths), lengths, Execution(manifest.execution), pad)
    return [outputs[name] for name in names]


def test_digits_int8_artifact_keeps_accuracy(built_models: Path) -> None:
    # GIVEN the built digits artifact and the same deterministic torch model
    model_dir = built_models / "digits" / "model"
    manifest = load_manifest(model_dir)
    bundle = digits.make_bundle()
    _, _, x_test, y_test = digits.load_digits_split()

    # WHEN both classify the held-out split
    (logits,) = _session(model_dir).run(None, {"pixels": x_test})
    with torch.no_grad():
        torch_logits = bundle.module(torch.from_numpy(x_test)).numpy()

    # THEN fp32 reaches 97%, the chosen int8 artifact loses at most 0.5 points
    fp32_accuracy, int8_accuracy = accuracy(torch_logits, y_test), accuracy(logits, y_test)
    assert "int8" in manifest.variant
    assert fp32_accuracy >= 0.97
    assert fp32_accuracy - int8_accuracy <= 0.005
    assert manifest.gate.fp32_metric == pytest.approx(fp32_accuracy)
    assert manifest.artifact.bytes < 0.5 * next(c.bytes for c in manifest.candidates if c.name == "fp32")


def test_minilm_int8_artifact_keeps_embeddings(built_models: Path) -> None:
    # GIVEN the built minilm artifact, its shipped tokenizer, and the torch fp32 encoder
    model_dir = built_models / "minilm" / "model"
    manifest = load_manifest(model_dir)
    assert manifest.text is not None
    tokenizer = model_dir / manifest.text.tokenizer_file
    assert sha256_file(tokenizer) == manifest.text.tokenizer_sha256
    feeds = minilm.tokenize(minilm.SENTENCES, tokenizer, manifest.text.max_length)
    encoder = minilm.make_encoder(minilm.model_dir())

    # WHEN both embed the fixed sentences
    (embeddings,) = _served(_session(model_dir), manifest, feeds)
    with torch.no_grad():
        reference = encoder(*(torch.from_numpy(feeds[name]) for name in minilm.GRAPH_INPUTS)).numpy()

    # THEN mean cosine >= 0.99, every nearest neighbour is kept, and int8 is <= 30% of fp32 bytes
    assert "int8" in manifest.variant
    assert float(np.mean(cosines(embeddings, reference))) >= 0.99
    assert list(nearest_neighbours(embeddings)) == list(nearest_neighbours(reference))
    fp32_bytes = next(c.bytes for c in manifest.candidates if c.name == "fp32")
    assert (model_dir / manifest.artifact.file).stat().st_size <= 0.30 * fp32_bytes
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-4)


def test_minilm_batch_and_sequence_are_dynamic(built_models: Path) -> None:
    # GIVEN the artifact WHEN fed batches of other sizes and lengths THEN shapes follow
    model_dir = built_models / "minilm" / "model"
    tokenizer = model_dir / "tokenizer.json"
    session = _session(model_dir)
    for texts in (["one"], ["a much longer sentence with many more tokens in it than before"] * 5):
        (out,) = session.run(None, minilm.tokenize(texts, tokenizer))
        assert out.shape == (len(texts), 384)


@pytest.mark.parametrize("model", ["digits", "minilm"])
def test_golden_samples_reproduce_on_the_artifact(built_models: Path, model: str) -> None:
    # GIVEN the manifest's golden request bodies
    model_dir = built_models / model / "model"
    manifest = load_manifest(model_dir)
    session = _session(model_dir)
    assert manifest.golden

    # WHEN each body is turned into graph inputs as the function does THEN the outputs match
    for golden in manifest.golden:
        body = golden.request["inputs"]
        if manifest.text is not None:
            feeds = minilm.tokenize(body, model_dir / manifest.text.tokenizer_file, manifest.text.max_length)
            outputs = _served(session, manifest, feeds)
        else:
            feeds = {manifest.signature.inputs[0].name: np.asarray(body, dtype=np.float32)}
            outputs = session.run(None, feeds)
        for spec, value in zip(manifest.signature.outputs, outputs, strict=True):
            np.testing.assert_allclose(value, golden.outputs[spec.name], atol=golden.atol, rtol=golden.rtol)


def test_minilm_ships_the_fusions_its_registry_asks_for(built_models: Path, repo_root: Path) -> None:
    # GIVEN the registry's minilm entry, which turns the optimizer's skip_layer_norm fusion off
    from fnkit_build.registry import load_registry

    (spec,) = load_registry(repo_root / "models.toml").select(["minilm"])
    assert spec.optimizer is not None and spec.optimizer.fusions == {"skip_layer_norm": False}
    # WHEN the shipped (fused, offline-optimized) artifact's graph is read
    import onnx

    model_dir = built_models / "minilm" / "model"
    manifest = load_manifest(model_dir)
    graph = onnx.load(str(model_dir / manifest.artifact.file)).graph
    operators = {node.op_type for node in graph.node}
    # THEN onnxruntime's offline optimization did not fuse Add + LayerNormalization back into
    # SkipLayerNormalization, and the manifest records the optimizer's fusions as shipped
    assert manifest.variant.startswith("fused-") and manifest.artifact.optimized
    assert "SkipLayerNormalization" not in operators and "LayerNormalization" in operators
    assert {"QAttention", "BiasGelu"} <= operators
    assert manifest.artifact.fused_operators["LayerNormalization"] == 12
    assert "SkipLayerNormalization" not in manifest.artifact.fused_operators
