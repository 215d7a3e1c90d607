"""Repair: a failing int8 candidate keeps its most sensitive nodes in float and competes again.

The hostile model (tiny_models.outlier_channel) has one hidden channel with a huge constant
activation: every int8 candidate loses most of its accuracy, and keeping the one MatMul that reads the
channel in float restores it while the large layers stay int8.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from fnkit_build.cpus import DEFAULT_CPUS, target_preset
from fnkit_build.exceptions import GateError, RegistryError
from fnkit_build.gate import Evaluation
from fnkit_build.pipeline import BuildOptions, BuildResult, build_models
from fnkit_build.progress import capture
from fnkit_build.quantize import NodeSelection, quantize
from fnkit_build.registry import GateSpec, load_registry
from fnkit_build.repair import REPAIRED_SUFFIX, needs_repair, quantizable_nodes
from fnkit_build.repairspec import RepairSpec
from fnkit_runtime.exceptions import ManifestError
from fnkit_runtime.manifest import SCHEMA_VERSION, CandidateResult, Manifest, load_manifest

from tests.build.conftest import Templates

THRESHOLD = 0.05


def outlier_entry(
    name: str = "outlier",
    *,
    outliers: int = 1,
    quantization: str = '["int8-dynamic-per-channel"]',
    gate_extra: str = "",
    repair: str = "",
) -> str:
    table = f"[models.{name}.repair]\n{repair}" if repair else ""
    return Templates.mlp(
        name,
        "outlier_channel",
        quantization,
        gate_extra,
        threshold=THRESHOLD,
        extra=f"factory_args = {{ outliers = {outliers} }}\n{table}",
    )


def _build(registry: Path, out: Path, **options: bool) -> tuple[BuildResult, Manifest, str]:
    """The build's result, its manifest, and what it printed: the progress, then the summary."""
    stream = io.StringIO()
    with capture() as progress:
        (result,) = build_models(load_registry(registry), [], BuildOptions(out=out, stream=stream, **options))
    return result, load_manifest(result.model_dir), progress.getvalue() + stream.getvalue()


def _by_name(manifest: Manifest) -> dict[str, CandidateResult]:
    return {c.name: c for c in manifest.candidates}


def test_outlier_model_is_repaired_chosen_and_recorded(
    write_registry: Callable[[str], Path], tmp_path: Path
) -> None:
    # GIVEN the outlier model with the three int8 candidates
    registry = write_registry(
        outlier_entry(quantization='["int8-dynamic", "int8-dynamic-per-channel", "int8-static-qdq"]')
    )

    # WHEN built
    result, manifest, printed = _build(registry, tmp_path / "out")

    # THEN every unrepaired int8 candidate fails on accuracy...
    candidates = _by_name(manifest)
    for name in ("int8-dynamic", "int8-dynamic-per-channel", "int8-static-qdq"):
        assert not candidates[name].passed and candidates[name].metric > 0.3, name
    # ...a repaired one passes and ships, at most half the fp32 bytes
    assert manifest.variant.endswith(REPAIRED_SUFFIX)
    chosen = candidates[manifest.variant]
    assert chosen.passed and chosen.metric <= THRESHOLD
    assert manifest.artifact.bytes <= 0.5 * candidates["fp32"].bytes
    assert manifest.gate.fp32_metric - manifest.gate.chosen_metric <= THRESHOLD
    # ...and the manifest says what was kept in float, in the quantizer's names, with the numbers before
    info = chosen.repair
    assert info is not None and info.base == manifest.variant.removesuffix(REPAIRED_SUFFIX)
    assert [(n.name.endswith("_MatMul"), n.op_type) for n in info.excluded] == [(True, "MatMul")]
    assert info.metric_before == candidates[info.base].metric
    assert info.bytes_before == candidates[info.base].bytes < chosen.bytes
    assert info.max_excluded == 1 and info.quantizable_nodes == 5
    # ...the static candidate's repair, bounded at one of its nine nodes, is recorded as failed
    static = candidates["int8-static-qdq" + REPAIRED_SUFFIX]
    assert not static.passed and static.repair is not None and len(static.repair.excluded) == 1
    # ...and the progress shows the search's time, the summary the exclusions
    assert f"repair {info.base} (rank nodes, search exclusions) ..." in printed
    assert "search " in printed
    summary = printed.split("\nsummary\n", 1)[1]
    assert "repaired candidates (nodes kept in float)" in summary
    assert f"{manifest.variant} passed, 1/5 nodes in float [{info.excluded[0].name} (MatMul)]" in summary
    assert result.chosen.name == manifest.variant


def test_excluded_names_are_the_quantizers(write_registry: Callable[[str], Path], tmp_path: Path) -> None:
    # GIVEN the outlier model's fp32 file as a build ships it (no candidates, not optimized)
    registry = write_registry(outlier_entry(quantization="[]"))
    result, manifest, _ = _build(registry, tmp_path / "out", optimize=False)
    fp32 = result.model_dir / manifest.artifact.file
    spec = load_registry(registry).models["outlier"]
    calibration = [{"x": np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)}]

    for candidate, float_op in (("int8-dynamic", "MatMul"), ("int8-static-qdq", "Gemm")):
        # WHEN every listed MatMul/Gemm is excluded by the name quantizable_nodes gives
        nodes = quantizable_nodes(candidate, fp32)
        exclude = tuple(n.name for n in nodes if n.op_type == float_op)
        assert len(exclude) == 5, candidate
        target = tmp_path / f"{candidate}.onnx"
        selection = NodeSelection(exclude=exclude)
        preset = target_preset("x86_64", DEFAULT_CPUS["x86_64"])
        quantize(candidate, fp32, target, preset=preset, calibration=calibration, spec=spec, nodes=selection)

        # THEN the quantizer honours each name: those float ops are still in the graph, by those names
        graph = onnx.load(str(target)).graph
        assert set(exclude) <= {n.name for n in graph.node if n.op_type == float_op}, candidate
        assert not any(n.op_type == "MatMulInteger" for n in graph.node)


@pytest.mark.parametrize(
    ("fraction", "repaired"),
    [
        pytest.param(None, False, id="default-bound-one-node-falls-back"),
        pytest.param(0.4, True, id="bound-two-nodes-repairs"),
    ],
)
def test_search_stops_at_its_bound(
    write_registry: Callable[[str], Path], tmp_path: Path, fraction: float | None, repaired: bool
) -> None:
    # GIVEN a model with two outlier channels: a repair needs two of its five nodes in float
    repair = "" if fraction is None else f"max_excluded_fraction = {fraction}"
    registry = write_registry(outlier_entry(outliers=2, repair=repair))

    # WHEN built
    _, manifest, _ = _build(registry, tmp_path / "out")

    # THEN the repair keeps at most its bound in float: within a bound of 1 it fails and fp32 ships
    attempt = _by_name(manifest)["int8-dynamic-per-channel" + REPAIRED_SUFFIX]
    assert attempt.repair is not None
    assert len(attempt.repair.excluded) <= attempt.repair.max_excluded == (2 if repaired else 1)
    assert attempt.passed is repaired
    assert manifest.variant == (attempt.name if repaired else "fp32")


def test_failed_repairs_are_in_the_gate_error(write_registry: Callable[[str], Path], tmp_path: Path) -> None:
    # GIVEN the two-outlier model, a bound of one node and a size bound fp32 cannot meet
    registry = load_registry(write_registry(outlier_entry(outliers=2, gate_extra=", max_size_ratio = 0.5")))
    out = tmp_path / "out"

    # WHEN built THEN the gate fails with every candidate's numbers, the repair's included
    with pytest.raises(GateError, match="no candidate passes") as info:
        build_models(registry, [], BuildOptions(out=out, stream=io.StringIO()))
    message = str(info.value)
    assert "int8-dynamic-per-channel: accuracy_drop" in message
    assert "int8-dynamic-per-channel-repaired: accuracy_drop" in message
    assert "fp32: accuracy_drop 0, " in message
    assert not (out / "outlier" / "model").exists()


@pytest.mark.parametrize(
    ("repair", "options"),
    [
        pytest.param("enabled = false", {}, id="registry-switch"),
        pytest.param("", {"repair": False}, id="no-repair-option"),
    ],
)
def test_repair_can_be_turned_off(
    write_registry: Callable[[str], Path], tmp_path: Path, repair: str, options: dict[str, bool]
) -> None:
    # GIVEN the outlier model, repair off in the registry or for this build
    registry = write_registry(outlier_entry(repair=repair))

    # WHEN built
    _, manifest, printed = _build(registry, tmp_path / "out", **options)

    # THEN no repair ran: fp32 ships, as without the feature
    assert manifest.variant == "fp32"
    assert all(c.repair is None and not c.name.endswith(REPAIRED_SUFFIX) for c in manifest.candidates)
    assert "repair " not in printed


def test_no_repair_cli_flag(write_registry: Callable[[str], Path], tmp_path: Path) -> None:
    from fnkit_ops.cli import main

    # GIVEN the outlier model WHEN built by the CLI with --no-repair THEN fp32 ships
    registry = write_registry(outlier_entry(quantization='["int8-dynamic"]'))
    out = tmp_path / "out"
    assert main(["build", "--registry", str(registry), "--out", str(out), "--no-repair"]) == 0
    manifest = load_manifest(out / "outlier" / "model")
    assert manifest.variant == "fp32" and len(manifest.candidates) == 2


def test_a_model_needing_no_repair_is_unaffected(
    write_registry: Callable[[str], Path], templates: type, tmp_path: Path
) -> None:
    # GIVEN a well-behaved model whose int8 candidate passes
    registry = write_registry(templates.mlp("m", "mlp"))  # type: ignore[attr-defined]

    # WHEN built with and without repair
    on, manifest, printed = _build(registry, tmp_path / "on")
    off, _, _ = _build(registry, tmp_path / "off", repair=False)

    # THEN the same artifact and manifest bytes come out, and no repair ran
    assert manifest.variant == "int8-dynamic"
    for name in (manifest.artifact.file, "manifest.json"):
        assert (on.model_dir / name).read_bytes() == (off.model_dir / name).read_bytes()
    assert "repair " not in printed


@pytest.mark.parametrize(
    ("quantizable", "fraction", "expected"),
    [
        pytest.param(0, 0.2, 0, id="nothing-to-exclude"),
        pytest.param(2, 0.2, 1, id="at-least-one"),
        pytest.param(10, 0.2, 2, id="fraction"),
        pytest.param(9, 0.2, 1, id="rounds-down"),
        pytest.param(5, 1.0, 5, id="all"),
    ],
)
def test_max_excluded(quantizable: int, fraction: float, expected: int) -> None:
    assert RepairSpec(max_excluded_fraction=fraction).max_excluded(quantizable) == expected


@pytest.mark.parametrize(
    ("repair", "message"),
    [
        pytest.param("repair = true", "field 'repair': must be dict", id="not-a-table"),
        pytest.param("repair = { enable = false }", "field 'repair.enable': is not a known field", id="typo"),
        pytest.param(
            "repair = { max_excluded_fraction = 0 }", "max_excluded_fraction': 0.0 is outside", id="zero"
        ),
        pytest.param("repair = { enabled = 1 }", "field 'repair.enabled': must be bool", id="not-bool"),
    ],
)
def test_registry_repair_table_is_validated(
    write_registry: Callable[[str], Path], templates: type, repair: str, message: str
) -> None:
    text = templates.mlp("m", "mlp").replace(  # type: ignore[attr-defined]
        'function = { memory_mb = 512, architecture = "x86_64" }',
        f'function = {{ memory_mb = 512, architecture = "x86_64" }}\n{repair}',
    )
    with pytest.raises(RegistryError, match=message):
        load_registry(write_registry(text))


def test_a_repaired_build_is_deterministic_and_its_manifest_versioned(
    write_registry: Callable[[str], Path], tmp_path: Path
) -> None:
    # GIVEN the outlier model WHEN built twice
    registry = write_registry(outlier_entry())
    first, manifest, _ = _build(registry, tmp_path / "a")
    second, _, _ = _build(registry, tmp_path / "b")

    # THEN the repaired artifact and its manifest are byte-identical (same ranking, same exclusions)
    assert manifest.variant == "int8-dynamic-per-channel" + REPAIRED_SUFFIX
    for name in (manifest.artifact.file, "manifest.json"):
        assert (first.model_dir / name).read_bytes() == (second.model_dir / name).read_bytes()

    # AND the repair record round-trips, while a schema_version 2 reader's manifest (no repair field)
    # or a malformed repair is refused with a ManifestError, never read half-way
    data = json.loads((first.model_dir / "manifest.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION == 3
    assert Manifest.from_dict(data) == manifest
    with pytest.raises(ManifestError, match="schema_version 2 is not supported"):
        Manifest.from_dict({**data, "schema_version": 2})
    broken = json.loads(json.dumps(data))
    next(c for c in broken["candidates"] if c["repair"])["repair"].pop("excluded")
    with pytest.raises(ManifestError, match=r"field 'candidates\[\d+\]\.repair\.excluded' is missing"):
        Manifest.from_dict(broken)


def _evaluation(name: str, metric: float, *, size_ratio: float = 0.3, passed: bool = False) -> Evaluation:
    extra = {"size_ratio": size_ratio}
    return Evaluation(name, Path(f"{name}.onnx"), 100, metric, 1 - metric, passed, 1.0, ("x",), extra)


@pytest.mark.parametrize(
    ("evaluation", "repair"),
    [
        pytest.param(_evaluation("int8-dynamic", 0.5), True, id="accuracy-fails"),
        pytest.param(_evaluation("int8-dynamic", float("nan")), True, id="non-finite"),
        pytest.param(_evaluation("int8-dynamic", 0.0, passed=True), False, id="passes"),
        pytest.param(_evaluation("int8-dynamic", 0.5, size_ratio=0.6), False, id="too-big-already"),
        pytest.param(_evaluation("int8-dynamic", 0.0), False, id="fails-on-something-else"),
        pytest.param(_evaluation("fp32", 0.5), False, id="fp32"),
        pytest.param(_evaluation("int8-dynamic-repaired", 0.5), False, id="already-repaired"),
    ],
)
def test_needs_repair(evaluation: Evaluation, repair: bool) -> None:
    gate = GateSpec(metric="accuracy_drop", threshold=0.02, max_size_ratio=0.5)
    assert needs_repair(gate, evaluation) is repair
