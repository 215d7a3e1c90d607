"""Quantization presets, the gate's scoring and choice, and builds that must fall back or fail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fnkit_build.cpus import host_cpu_flags, target_preset
from fnkit_build.exceptions import GateError
from fnkit_build.gate import Evaluation, choose, nearest_neighbours, score
from fnkit_build.pipeline import BuildOptions, build_models
from fnkit_build.registry import GateSpec, Registry, load_registry
from fnkit_runtime.manifest import load_manifest


@pytest.mark.parametrize(
    ("architecture", "cpus", "reduce_range"),
    [
        pytest.param("arm64", ("arm64-graviton2",), False, id="arm64-graviton2"),
        pytest.param("x86_64", ("x86_64-avx512-vnni",), False, id="x86-avx512-vnni-only"),
        pytest.param("x86_64", ("x86_64-avx2",), True, id="x86-avx2"),
        pytest.param("x86_64", ("x86_64-avx512-vnni", "x86_64-avx2"), True, id="x86-any-avx2"),
    ],
)
def test_target_preset_follows_the_target_classes(
    architecture: str, cpus: tuple[str, ...], reduce_range: bool
) -> None:
    assert target_preset(architecture, cpus).reduce_range is reduce_range


def test_host_cpu_flags_reads_proc_cpuinfo_format(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nflags\t\t: fpu avx2 avx512_vnni\n\nprocessor\t: 1\n", encoding="utf-8"
    )
    assert host_cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_vnni"}
    assert host_cpu_flags(tmp_path / "missing") == frozenset()


def _eval(name: str, latency: float, passed: bool = True, metric: float = 0.0) -> Evaluation:
    return Evaluation(
        name,
        Path(f"{name}.onnx"),
        100,
        metric,
        1.0 - metric,
        passed,
        latency,
        () if passed else ("accuracy_drop 0.3 fails <= 0.005",),
    )


def _spec(write_registry: Callable[[str], Path], text: str, name: str) -> Any:
    return load_registry(write_registry(text)).models[name]


@pytest.mark.parametrize(
    ("evaluations", "chosen"),
    [
        pytest.param(
            [_eval("fp32", 10), _eval("int8-static-qdq", 3), _eval("int8-dynamic", 20)],
            "int8-static-qdq",
            id="fastest-passing",
        ),
        pytest.param(
            [_eval("fp32", 10), _eval("int8-static-qdq", 3, passed=False), _eval("int8-dynamic", 6)],
            "int8-dynamic",
            id="skips-failing",
        ),
        pytest.param(
            [_eval("fp32", 10), _eval("int8-dynamic-per-channel", 5), _eval("int8-dynamic", 4.5)],
            "int8-dynamic-per-channel",
            id="near-tie-keeps-registry-order",
        ),
        pytest.param([_eval("fp32", 10), _eval("int8-dynamic", 5, passed=False)], "fp32", id="fp32-fallback"),
        pytest.param([_eval("fp32", 1), _eval("int8-dynamic", 5)], "fp32", id="fp32-much-faster"),
        pytest.param(
            [_eval("fp32", 1), _eval("int8-static-qdq", 1.4)], "int8-static-qdq", id="fp32-only-a-fallback"
        ),
        pytest.param(
            [_eval("fp32", 0.03), _eval("int8-static-qdq", 0.09)],
            "int8-static-qdq",
            id="sub-millisecond-gap-is-overhead",
        ),
    ],
)
def test_choose(
    write_registry: Callable[[str], Path], templates: Any, evaluations: list[Evaluation], chosen: str
) -> None:
    spec = _spec(write_registry, templates.mlp("m", "mlp"), "m")
    assert choose(spec, evaluations).name == chosen


def test_choose_fails_with_every_candidates_numbers(
    write_registry: Callable[[str], Path], templates: Any
) -> None:
    # GIVEN every candidate failing, fp32 included
    spec = _spec(write_registry, templates.mlp("m", "mlp"), "m")
    evaluations = [
        _eval("fp32", 10, passed=False, metric=0.3),
        _eval("int8-dynamic", 5, passed=False, metric=0.4),
    ]

    # WHEN choosing THEN one GateError carries each candidate's metric, size and latency
    with pytest.raises(GateError, match="no candidate passes") as info:
        choose(spec, evaluations)
    assert "fp32: accuracy_drop 0.3, 100 bytes, 10 ms" in str(info.value)
    assert "int8-dynamic: accuracy_drop 0.4" in str(info.value)


def test_score_nearest_neighbour_and_cosine() -> None:
    # GIVEN reference embeddings in two clear pairs, and a candidate that swaps one neighbour
    reference = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.9, 0.1]], dtype=np.float32)
    candidate = np.array([[1, 0, 0], [0.1, 0.9, 0], [0, 1, 0], [0, 0.9, 0.1]], dtype=np.float32)
    gate = GateSpec(metric="cosine_mean", threshold=0.5, same_nearest_neighbour=True)

    # WHEN scored
    metric, _, reasons, extra = score(gate, {"e": candidate}, {"e": reference}, None)

    # THEN the neighbour change fails the gate even though the mean cosine passes
    assert list(nearest_neighbours(reference)) == [1, 0, 3, 2]
    assert metric > 0.5
    assert extra["nearest_neighbour_agreement"] < 1
    assert any("changed nearest neighbour" in r for r in reasons)


def _hostile_registry(
    write_registry: Callable[[str], Path], templates: Any, quantization: str, gate_extra: str = ""
) -> Registry:
    """The registry of the weight-outlier model `hostile`, with these candidates and gate extras."""
    text = templates.mlp("hostile", "hostile", quantization=quantization, gate_extra=gate_extra)
    return load_registry(write_registry(text))


def test_hostile_model_falls_back_to_fp32_without_repair(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path
) -> None:
    # GIVEN a model whose weight outliers wipe out int8 (per tensor and per channel)
    quantization = '["int8-dynamic", "int8-dynamic-per-channel", "int8-static-qdq"]'
    registry = _hostile_registry(write_registry, templates, quantization)

    # WHEN built without repair (test_repair.py covers the repair of such models)
    (result,) = build_models(registry, [], BuildOptions(out=tmp_path / "out", repair=False))

    # THEN every int8 candidate failed on accuracy and fp32 shipped
    manifest = load_manifest(result.model_dir)
    assert manifest.variant == "fp32"
    failed = {c.name: c for c in manifest.candidates if not c.passed}
    assert set(failed) == {"int8-dynamic", "int8-dynamic-per-channel", "int8-static-qdq"}
    assert all(c.metric > 0.1 for c in failed.values())


def test_hostile_model_fails_when_fp32_is_not_allowed(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path
) -> None:
    # GIVEN the same model with a size bound that fp32 cannot meet
    registry = _hostile_registry(
        write_registry, templates, '["int8-dynamic-per-channel"]', gate_extra=", max_size_ratio = 0.5"
    )
    out = tmp_path / "out"

    # WHEN built THEN the gate fails with the numbers and nothing is written
    with pytest.raises(GateError, match=r"fp32: accuracy_drop 0, .*size 100.0% of fp32 exceeds 50%"):
        build_models(registry, [], BuildOptions(out=out))
    assert not (out / "hostile" / "model").exists()


def test_static_qdq_on_a_cnn_is_chosen_and_smaller(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path
) -> None:
    # GIVEN a convolution model with calibration samples and a size bound
    registry = load_registry(write_registry(templates.cnn))

    # WHEN built
    (result,) = build_models(registry, [], BuildOptions(out=tmp_path / "out"))

    # THEN the static QDQ candidate ships, has QuantizeLinear nodes, and keeps accuracy
    manifest = load_manifest(result.model_dir)
    assert manifest.variant == "int8-static-qdq"
    sizes = {c.name: c.bytes for c in manifest.candidates}
    assert sizes["int8-static-qdq"] <= 0.5 * sizes["fp32"]
    assert manifest.gate.chosen_metric >= manifest.gate.fp32_metric - 0.05
