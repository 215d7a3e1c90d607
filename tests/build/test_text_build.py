"""Text and serving knobs of the build: the batch-invariance gate, fused-graph candidates, length rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fnkit_build import pipeline
from fnkit_build.cpus import QuantPreset, target_preset
from fnkit_build.exceptions import RegistryError
from fnkit_build.pipeline import BuildOptions, build_models
from fnkit_build.registry import load_registry
from fnkit_runtime.manifest import Manifest, load_manifest

TINY_BERT = """
[models.tinybert]
factory = "tiny_models:tiny_bert"
task = "embedding"
quantization = ["int8-dynamic-per-channel"]
tolerance = { atol = 1e-4, rtol = 1e-3 }
gate = { metric = "cosine_mean", threshold = 0.9 }
function = { memory_mb = 1024, architecture = "x86_64" }
text = { tokenizer_file = "tokenizer.json", max_length = 32, graph_inputs = [
    "input_ids", "attention_mask", "token_type_ids"
] }
%(extra)s

[models.tinybert.inputs.input_ids]
dtype = "int64"
shape = ["batch", "sequence"]

[models.tinybert.inputs.attention_mask]
dtype = "int64"
shape = ["batch", "sequence"]

[models.tinybert.inputs.token_type_ids]
dtype = "int64"
shape = ["batch", "sequence"]

[models.tinybert.outputs.sentence_embedding]
dtype = "float32"
shape = ["batch", 32]
"""
OPTIMIZER = (
    'optimizer = { model_type = "bert", num_heads = 2, hidden_size = 32, '
    'factory_args = { attn_implementation = "eager" } }'
)


def _built_mlp(write_registry: Callable[[str], Path], templates: Any, out: Path, execution: str) -> Manifest:
    """Build the tiny mlp with a dynamic int8 candidate and these executions; its manifest."""
    text: str = templates.mlp("mlp", "mlp", quantization='["int8-dynamic"]')
    text = text.replace('task = "classification"', f'task = "classification"\nexecution = {execution}')
    (result,) = build_models(load_registry(write_registry(text)), [], BuildOptions(out=out))
    return load_manifest(result.model_dir)


def test_the_invariance_gate_rejects_a_batch_dependent_candidate(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path
) -> None:
    # GIVEN a model whose only execution is one call per request, and a dynamic int8 candidate WHEN built
    manifest = _built_mlp(write_registry, templates, tmp_path / "out", '["batch"]')

    # THEN dynamic int8 (one activation scale over the batch) is rejected with its number; fp32 ships
    int8 = next(c for c in manifest.candidates if c.name == "int8-dynamic")
    assert not int8.passed
    assert "not batch-invariant" in int8.reason
    assert int8.extra["batch_invariance_max_abs_batch"] > 1e-5
    assert (manifest.variant, manifest.execution) == ("fp32", "batch")


def test_per_item_execution_makes_dynamic_int8_batch_invariant(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path
) -> None:
    # GIVEN the same model allowed to run items one by one WHEN built
    manifest = _built_mlp(write_registry, templates, tmp_path / "out", '["batch", "per_item"]')

    # THEN dynamic int8 passes with per_item (its items alone, exactly) and fp32 keeps the batch
    candidates = {c.name: c for c in manifest.candidates}
    assert candidates["int8-dynamic"].passed
    assert candidates["int8-dynamic"].extra["batch_invariance_max_abs_per_item"] == 0.0
    assert candidates["fp32"].extra["batch_invariance_max_abs_batch"] <= 1e-5
    assert "batch_invariance_max_abs_per_item" not in candidates["fp32"].extra
    assert manifest.execution == ("per_item" if manifest.variant == "int8-dynamic" else "batch")


def test_fused_candidates_are_exported_fused_checked_and_gated(
    write_registry: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a tiny BERT with an optimizer table, and the fused candidates' quantization presets recorded
    registry = load_registry(write_registry(TINY_BERT % {"extra": OPTIMIZER}))
    presets: list[QuantPreset] = []
    real_quantize_fused = pipeline.quantize_fused

    def recording(candidate: str, source: Path, target: Path, *, preset: QuantPreset, spec: Any) -> Path:
        presets.append(preset)
        return real_quantize_fused(candidate, source, target, preset=preset, spec=spec)

    monkeypatch.setattr(pipeline, "quantize_fused", recording)

    # WHEN built
    (result,) = build_models(registry, [], BuildOptions(out=tmp_path / "out"))

    # THEN the fused graph was quantized with the target classes' preset, as the plain candidates
    # (reduce_range: the default x86_64 class, AVX2, saturates u8xs8), whatever the build host has
    spec = registry.select(["tinybert"])[0]
    assert presets == [target_preset(spec.function.architecture, spec.function.cpus)]
    assert presets[0].reduce_range

    # AND the fused fp32 graph matched torch (parity) and the fused candidates were gated
    manifest = load_manifest(result.model_dir)
    candidates = {c.name: c for c in manifest.candidates}
    assert {"fused-fp32", "fused-int8-dynamic-per-channel"} <= set(candidates)
    assert candidates["fused-fp32"].metric > 0.9999
    assert candidates["fused-int8-dynamic-per-channel"].passed
    # fused or not, the shipped artifact records what the optimizer fused into it
    if manifest.variant.startswith("fused-"):
        assert manifest.artifact.fused_operators["Attention"] == 2
        assert manifest.artifact.fused_operators["SkipLayerNormalization"] == 4
    else:
        assert manifest.artifact.fused_operators == {}
    # dynamic int8 can only be served one item per call; fp32 by length buckets
    assert "batch_invariance_max_abs_per_item" in candidates["fused-int8-dynamic-per-channel"].extra
    assert candidates["fused-fp32"].extra["batch_invariance_max_abs_length_buckets"] <= 1e-5
    # the truncating golden request is recorded as sent
    assert manifest.golden[1].request["truncate"] is True
    assert manifest.text is not None and manifest.text.on_overflow == "reject"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        pytest.param(
            'optimizer = { model_type = "nope", num_heads = 2, hidden_size = 32 }', "model_type", id="type"
        ),
        pytest.param(
            'optimizer = { model_type = "bert", num_heads = 3, hidden_size = 32 }', "hidden_size", id="heads"
        ),
        pytest.param(
            'optimizer = { model_type = "bert", num_heads = 2, hidden_size = 32, '
            'quantization = ["int8-static-qdq"] }',
            r"optimizer\.quantization",
            id="static",
        ),
        pytest.param(
            'optimizer = { model_type = "bert", num_heads = 2, hidden_size = 32, '
            "fusions = { skip_norm = false } }",
            r"optimizer\.fusions.*'skip_norm' is not one of",
            id="fusion-name",
        ),
        pytest.param(
            'optimizer = { model_type = "bert", num_heads = 2, hidden_size = 32, '
            'fusions = { skip_layer_norm = "off" } }',
            r"optimizer\.fusions\.skip_layer_norm.*not true or false",
            id="fusion-value",
        ),
        pytest.param('execution = ["sorted"]', "execution", id="execution"),
        pytest.param("execution = []", "execution", id="no-execution"),
    ],
)
def test_registry_rejects_bad_serving_knobs(
    write_registry: Callable[[str], Path], extra: str, field: str
) -> None:
    with pytest.raises(RegistryError, match=field):
        load_registry(write_registry(TINY_BERT % {"extra": extra}))


def test_registry_rejects_an_unknown_overflow_rule(write_registry: Callable[[str], Path]) -> None:
    text = TINY_BERT % {"extra": ""}
    text = text.replace("max_length = 32,", 'max_length = 32, on_overflow = "drop",')
    with pytest.raises(RegistryError, match=r"text\.on_overflow"):
        load_registry(write_registry(text))
