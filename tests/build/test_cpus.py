"""Target CPU classes: registry, presets independent of the build host, emulated verification that
rejects a candidate saturating on AVX2, golden tolerances from the measured spread, and bad input.

Emulated runs of tiny models take seconds (qemu-x86_64-static -cpu Haswell); the arm64 root and the
shipped models' runs under both emulations are in test_cpus_emulated.py (slow, run by CI).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fnkit_build import cpus as cpus_module
from fnkit_build import emulation, optimize, pipeline
from fnkit_build import verify as verify_module
from fnkit_build.cpus import DEFAULT_CPUS, QuantPreset
from fnkit_build.exceptions import RegistryError
from fnkit_build.inference import open_served_session, open_session
from fnkit_build.pipeline import BuildOptions, build_models
from fnkit_build.registry import load_registry
from fnkit_build.verify import CROSS_CPU_ATOL, SKIPPED_WARNING
from fnkit_ops.cli import main
from fnkit_runtime.exceptions import ManifestError
from fnkit_runtime.manifest import SCHEMA_VERSION, CandidateResult, CpuCheck, Manifest, load_manifest

VNNI_HOST = "processor\t: 0\nflags\t\t: fpu sse4_2 avx2 fma avx512f avx512_vnni amx_int8\n"
AVX2_HOST = "processor\t: 0\nflags\t\t: fpu sse4_2 avx2 fma\n"


def _fake_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cpuinfo: str) -> None:
    fake = tmp_path / f"cpuinfo-{abs(hash(cpuinfo))}"
    fake.write_text(cpuinfo, encoding="utf-8")
    monkeypatch.setattr(cpus_module, "CPUINFO", fake)


# --- registry ---------------------------------------------------------------------------------
def test_registry_defaults_and_explicit_classes(
    write_registry: Callable[[str], Path], templates: Any
) -> None:
    # GIVEN the default and an explicit class list WHEN loaded THEN the classes are the targets
    default = load_registry(write_registry(templates.saturating())).models["sat"]
    assert default.function.cpus == DEFAULT_CPUS["x86_64"] == ("x86_64-avx2",)
    text = templates.saturating(', cpus = ["x86_64-avx512-vnni", "x86_64-avx2"]')
    explicit = load_registry(write_registry(text)).models["sat"]
    assert explicit.function.cpus == ("x86_64-avx512-vnni", "x86_64-avx2")
    arm = load_registry(write_registry(templates.saturating().replace('"x86_64"', '"arm64"'))).models["sat"]
    assert arm.function.cpus == ("arm64-graviton2",)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(', cpus = ["x86_64-avx3"]', "'x86_64-avx3' is not one of", id="unknown-class"),
        pytest.param(', cpus = ["arm64-graviton2"]', "is an arm64 class, not x86_64", id="wrong-arch"),
        pytest.param(", cpus = []", "names no CPU class", id="empty"),
        pytest.param(', cpus = ["x86_64-avx2", "x86_64-avx2"]', "lists a class twice", id="twice"),
        pytest.param(', cpus = "x86_64-avx2"', "must be list", id="not-a-list"),
    ],
)
def test_bad_cpu_classes_name_the_field(
    write_registry: Callable[[str], Path], templates: Any, extra: str, expected: str
) -> None:
    with pytest.raises(RegistryError, match=r"field 'function\.cpus'") as info:
        load_registry(write_registry(templates.saturating(extra)))
    assert expected in str(info.value)


# --- presets: the target decides, not the build host -------------------------------------------
def test_same_registry_same_artifact_bytes_on_any_build_host(
    write_registry: Callable[[str], Path],
    templates: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN one registry (default x86_64 target: AVX2 without VNNI)
    registry = load_registry(write_registry(templates.saturating()))
    built = {}
    for host, cpuinfo in (("vnni", VNNI_HOST), ("avx2", AVX2_HOST)):
        # WHEN built on a host faking VNNI + AMX, then on one faking plain AVX2
        _fake_host(monkeypatch, tmp_path, cpuinfo)
        (result,) = build_models(registry, [], BuildOptions(out=tmp_path / host))
        built[host] = load_manifest(result.model_dir)

    # THEN both ship the same int8 artifact bytes (7-bit weights: the target saturates u8×s8)
    assert built["vnni"].variant == built["avx2"].variant == "int8-dynamic-per-channel"
    assert built["vnni"].artifact.sha256 == built["avx2"].artifact.sha256
    # AND each verified the target class under emulation; the VNNI host's own run counts as its class
    assert built["avx2"].cpus.verified == {"x86_64-avx2": "qemu-x86_64-static -cpu Haswell"}
    assert built["vnni"].cpus.verified == {
        "x86_64-avx2": "qemu-x86_64-static -cpu Haswell",
        "x86_64-avx512-vnni": "build host",
    }


def test_offline_optimization_writes_the_same_bytes_on_an_avx2_host(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path
) -> None:
    # GIVEN the quantized, un-optimized artifact
    path = write_registry(templates.saturating())
    out = tmp_path / "raw"
    assert (
        main(["build", "--registry", str(path), "--out", str(out), "--no-optimize", "--no-verify-cpus"]) == 0
    )
    raw = out / "sat" / "model" / "model.onnx"

    # WHEN the build's optimization step runs here and on an emulated AVX2 CPU without VNNI
    here, avx2 = tmp_path / "here.onnx", tmp_path / "avx2.onnx"
    open_session(raw, threads=1, optimized_path=here, level=optimize.LEVEL)
    script = (
        "import sys; from pathlib import Path; from fnkit_build.inference import open_session; "
        "open_session(Path(sys.argv[1]), threads=1, optimized_path=Path(sys.argv[2]), level=sys.argv[3])"
    )
    qemu = shutil.which("qemu-x86_64-static")
    assert qemu is not None, "qemu-user-static is required (make emulators)"
    command = [qemu, "-cpu", "Haswell", sys.executable, "-c", script, str(raw), str(avx2), optimize.LEVEL]
    subprocess.run(command, check=True, capture_output=True)

    # THEN the files are byte-identical: the optimized artifact does not depend on the build CPU either
    assert here.read_bytes() == avx2.read_bytes()


# --- emulated verification --------------------------------------------------------------------
HOST_SATURATES = cpus_module.host_saturates_u8s8()


@pytest.fixture
def full_range_build(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Manifest, CandidateResult]:
    """The saturating model quantized with full-range weights (as the host-decides preset did on a
    VNNI build host) and built, its chosen artifact verified on the AVX2 target under qemu: the
    manifest and its `int8-dynamic-per-channel` candidate."""
    registry = load_registry(write_registry(templates.saturating()))
    full_range = QuantPreset("x86_64", reduce_range=False, reason="full range (the old host preset)")
    monkeypatch.setattr(pipeline, "target_preset", lambda architecture, cpus: full_range)
    (result,) = build_models(registry, [], BuildOptions(out=tmp_path / "out"))
    manifest = load_manifest(result.model_dir)
    return manifest, next(c for c in manifest.candidates if c.name == "int8-dynamic-per-channel")


@pytest.mark.skipif(HOST_SATURATES, reason="needs a VNNI build host (its gate passes what AVX2 saturates)")
def test_verification_rejects_a_candidate_that_saturates_on_avx2(
    full_range_build: tuple[Manifest, CandidateResult], progress_lines: io.StringIO
) -> None:
    # GIVEN/WHEN the full-range build on this VNNI build host (the gate on the host passes it)
    manifest, int8 = full_range_build

    # THEN the int8 candidate is rejected naming the class and both numbers, and fp32 ships
    assert manifest.variant == "fp32"
    assert not int8.passed
    assert "on x86_64-avx2 (qemu-x86_64-static -cpu Haswell): max_abs_error" in int8.reason
    assert "(build host max_abs_error" in int8.reason
    host_error = int8.metric
    emulated_error = float(int8.reason.split("max_abs_error ")[1].split(" ")[0])
    assert host_error < 0.5 < emulated_error
    assert "int8-dynamic-per-channel rejected: on x86_64-avx2" in progress_lines.getvalue()
    assert manifest.cpus.verified["x86_64-avx2"] == "qemu-x86_64-static -cpu Haswell"


@pytest.mark.skipif(not HOST_SATURATES, reason="needs a build host without VNNI")
def test_an_avx2_build_host_rejects_the_saturating_candidate_at_its_own_gate(
    full_range_build: tuple[Manifest, CandidateResult],
) -> None:
    # GIVEN/WHEN the same full-range build on a host without VNNI (it saturates here too)
    manifest, int8 = full_range_build

    # THEN the host's own gate rejects it with the host's number, before any emulated run; the
    # repaired candidate (the saturating nodes kept in float) passes here and on the emulated AVX2 CPU
    assert not int8.passed
    assert int8.metric > 0.5
    assert int8.reason == f"max_abs_error {int8.metric:.3f} fails <= 0.5"
    assert manifest.variant == "int8-dynamic-per-channel-repaired"
    assert manifest.cpus.verified["x86_64-avx2"] == "qemu-x86_64-static -cpu Haswell"


def test_target_preset_ships_int8_that_holds_on_avx2_and_tight_goldens(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path
) -> None:
    # GIVEN the same model with the target's own preset (reduce_range for AVX2)
    registry = load_registry(write_registry(templates.saturating()))

    # WHEN built
    (result,) = build_models(registry, [], BuildOptions(out=tmp_path / "out"))

    # THEN int8 ships, its verification passed, golden tolerances come from the measured spread (the
    # 7-bit artifact computes the same on AVX2 as here: the parity tolerance), and the time is reported
    manifest = load_manifest(result.model_dir)
    assert manifest.variant == "int8-dynamic-per-channel"
    assert result.verification.passed
    assert "x86_64-avx2" in {run.cpu for run in result.verification.runs}
    assert all(g.atol < CROSS_CPU_ATOL for g in manifest.golden)
    report = json.loads((result.model_dir.parent / "build-report.json").read_text())
    assert report["cpu_verification"]["classes"]["x86_64-avx2"] > 0


def test_no_verify_cpus_records_a_warning_and_the_fixed_bound(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path, progress_lines: io.StringIO
) -> None:
    # GIVEN a registry WHEN built with --no-verify-cpus
    path = write_registry(templates.saturating())
    code = main(["build", "--registry", str(path), "--out", str(tmp_path / "out"), "--no-verify-cpus"])

    # THEN the build warns, the manifest says so, and the goldens use the fixed cross-CPU bound
    assert code == 0
    assert "WARNING: not verified on the target CPU classes" in progress_lines.getvalue()
    manifest = load_manifest(tmp_path / "out" / "sat" / "model")
    assert manifest.cpus.warning == SKIPPED_WARNING
    assert manifest.cpus.verified == {}
    assert manifest.cpus.targets == ["x86_64-avx2"]
    assert all(g.atol == CROSS_CPU_ATOL and g.cosine_min is None for g in manifest.golden)


def test_verification_runs_the_artifact_as_the_manifests_execution_serves_it(
    write_registry: Callable[[str], Path],
    templates: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a model whose only execution is one call per item, with a dynamic int8 candidate, and
    # every emulated run's session calls recorded (the real emulator still runs them)
    text = templates.mlp("mlp", "mlp").replace(
        'task = "classification"', 'task = "classification"\nexecution = ["per_item"]'
    )
    registry = load_registry(write_registry(text))
    batches: list[int] = []
    real_run_on = verify_module.run_on

    def recording(cpu: Any, model: Path, runs: Any, **kwargs: Any) -> Any:
        batches.extend(len(feeds["x"]) for feeds in runs)
        return real_run_on(cpu, model, runs, **kwargs)

    monkeypatch.setattr(verify_module, "run_on", recording)

    # WHEN built (verified on the AVX2 class under qemu)
    (result,) = build_models(registry, [], BuildOptions(out=tmp_path / "out"))

    # THEN the class ran every evaluation item and golden item in a call of its own, as the function
    manifest = load_manifest(result.model_dir)
    assert manifest.execution == "per_item"
    assert result.verification.passed
    golden_items = sum(len(sample.request["inputs"]) for sample in manifest.golden)
    assert batches == [1] * (256 + golden_items)
    # AND the recorded goldens are the shipped file's outputs item by item on the function's settings
    session = open_served_session(
        result.model_dir / manifest.artifact.file, optimized=manifest.artifact.optimized
    )
    for sample in manifest.golden:
        x = np.asarray(sample.request["inputs"], dtype=np.float32)
        alone = np.concatenate([session.run(["logits"], {"x": x[i : i + 1]})[0] for i in range(len(x))])
        np.testing.assert_array_equal(np.asarray(sample.outputs["logits"], dtype=np.float32), alone)


# --- bad input --------------------------------------------------------------------------------
BuildError = Callable[[str], str]


@pytest.fixture
def build_error(
    write_registry: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> BuildError:
    """Build this registry text: it must fail with exit 1, one line on stderr and nothing written."""

    def build(text: str) -> str:
        out = tmp_path / "out"
        code = main(["build", "--registry", str(write_registry(text)), "--out", str(out)])
        err = capsys.readouterr().err.strip()
        assert code == 1
        assert err.startswith("fnkit build: error: ") and "\n" not in err and "Traceback" not in err
        assert not (out / "sat" / "model").exists()
        return err

    return build


def test_a_class_this_host_cannot_emulate_is_a_build_error(
    build_error: BuildError, templates: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a VNNI target (qemu cannot emulate AVX-512) on a build host without VNNI
    _fake_host(monkeypatch, tmp_path, AVX2_HOST)

    # WHEN built THEN one error names the class and why, before any work
    err = build_error(templates.saturating(', cpus = ["x86_64-avx512-vnni"]'))
    assert "target CPU class x86_64-avx512-vnni" in err and "cannot be emulated" in err
    assert "lacks avx512_vnni" in err


def test_a_missing_emulator_is_a_build_error(
    build_error: BuildError, templates: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a machine without qemu-user-static
    monkeypatch.setattr(emulation.shutil, "which", lambda name: None)

    # WHEN built THEN the error names the class, the emulator and how to install it
    err = build_error(templates.saturating())
    assert "target CPU class x86_64-avx2: qemu-x86_64-static is not installed" in err
    assert "make emulators" in err


def test_a_failing_emulation_root_is_a_build_error(
    build_error: BuildError, templates: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an arm64 model whose Debian root cannot be made (a suite debootstrap does not know)
    monkeypatch.setenv("FNKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(emulation, "DEBIAN_SUITE", "no-such-suite")

    # WHEN built THEN the error names the class and the failing step; no root is marked ready
    err = build_error(templates.saturating().replace('"x86_64"', '"arm64"'))
    assert "target CPU class arm64-graviton2" in err
    assert "emulation root" in err or "needs root" in err or "is not installed" in err
    assert not list((tmp_path / "cache").glob(f"emulation/*/{emulation.READY_MARK}"))


# --- manifest ---------------------------------------------------------------------------------
def test_manifest_of_an_older_schema_is_refused(built_models: Path) -> None:
    # GIVEN a shipped manifest rewritten as schema 2 (no `cpus`, as main had before)
    data = json.loads((built_models / "digits" / "model" / "manifest.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION == 3
    old = {k: v for k, v in data.items() if k != "cpus"} | {"schema_version": 2}

    # WHEN loaded THEN it is an explicit error naming both versions
    with pytest.raises(ManifestError, match=r"schema_version 2 is not supported.*reads version 3"):
        Manifest.from_dict(old)
    # AND a version-3 manifest without `cpus` is refused naming the field, one with no verified class and
    # no warning too
    with pytest.raises(ManifestError, match="manifest field 'cpus' is missing"):
        Manifest.from_dict({k: v for k, v in data.items() if k != "cpus"})
    with pytest.raises(ManifestError, match="no class verified and no warning"):
        CpuCheck(targets=["x86_64-avx2"])
