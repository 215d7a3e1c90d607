"""The shipped models' goldens under both emulations (slow: CI runs them with `make test-emulated`).

x86_64: the shipped registry as built by tests/conftest.py (target x86_64-avx2). arm64: the same
registry with `architecture = "arm64"`, built by tests/conftest.py too (target arm64-graviton2,
Debian arm64 root from the project cache; shared with tests/invoke/test_rie_arm64.py). Each golden
request becomes graph inputs through the function's own code, runs on every emulated class the
manifest says was verified (its items run as the manifest's execution says), and must pass the
smoke test's own comparison with the manifest's tolerances.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fnkit_build.cpus import CPU_CLASSES, Emulation
from fnkit_build.emulation import run_on
from fnkit_build.factory import load_bundle
from fnkit_build.golden import served_golden_feeds, text_encoder
from fnkit_build.inference import open_served_session
from fnkit_build.project import cache_dir
from fnkit_build.registry import load_registry
from fnkit_build.verify import ServedCalls
from fnkit_runtime.batching import Execution
from fnkit_runtime.golden_check import golden_mismatches
from fnkit_runtime.manifest import load_manifest, verify_artifact
from fnkit_runtime.session import graph_optimization_level

pytestmark = [pytest.mark.slow, pytest.mark.emulated]

MODELS = ("digits", "minilm")


def _goldens_on_emulated_classes(registry: Path, model_dir: Path, model: str, cache: Path) -> list[str]:
    manifest = load_manifest(model_dir)
    spec = load_registry(registry).models[model]
    bundle = load_bundle(spec)
    encoder = text_encoder(spec, bundle)
    # the golden requests as the function serves them: the session calls of the manifest's execution
    served = ServedCalls(
        [(request.rows, request.lengths) for request in served_golden_feeds(spec, bundle)],
        Execution(manifest.execution),
        None if encoder is None else encoder.pad_values,
    )
    artifact = verify_artifact(manifest, model_dir)
    host = open_served_session(artifact, optimized=manifest.artifact.optimized)
    names = [t.name for t in spec.outputs]
    _, calls = served.calls(lambda feeds: dict(zip(names, host.run(names, feeds), strict=True)))
    emulated = [
        CPU_CLASSES[n] for n in manifest.cpus.verified if CPU_CLASSES[n].emulation != Emulation.BUILD_HOST
    ]
    assert emulated, manifest.cpus
    problems = []
    for cpu in emulated:
        results = run_on(
            cpu,
            artifact,
            calls,
            output_names=names,
            graph_level=int(graph_optimization_level(manifest.artifact.optimized)),
            cache=cache,
        )
        outputs = served.replay(results)
        for index, (sample, got) in enumerate(zip(manifest.golden, outputs, strict=True)):
            returned = {name: np.asarray(value).tolist() for name, value in got.items()}
            found = golden_mismatches(sample, returned)
            problems += [f"{model} on {cpu.name}, golden {index}: {p}" for p in found]
    return problems


@pytest.mark.parametrize("model", MODELS)
def test_x86_64_goldens_hold_under_avx2_emulation(built_models: Path, repo_root: Path, model: str) -> None:
    # GIVEN a shipped x86_64 model as built WHEN its goldens run under qemu -cpu Haswell
    registry = repo_root / "models.toml"
    problems = _goldens_on_emulated_classes(
        registry, built_models / model / "model", model, cache_dir(registry)
    )
    # THEN every golden sample matches within the manifest's tolerances
    assert problems == []


@pytest.mark.parametrize("model", MODELS)
def test_arm64_build_verifies_on_graviton2_and_goldens_hold(
    arm64_models: Path, arm64_registry: Path, repo_root: Path, model: str
) -> None:
    # GIVEN the shipped model built for arm64 (full 8-bit range: dot products do not saturate)
    model_dir = arm64_models / model / "model"
    manifest = load_manifest(model_dir)
    assert manifest.function.architecture == "arm64"
    assert manifest.cpus.targets == ["arm64-graviton2"]
    assert list(manifest.cpus.verified) == ["arm64-graviton2"]  # an x86 build host is no arm64 class
    # AND its goldens are Graviton2's own outputs (not the x86 build host's), so with one verified class
    # their tolerance is the parity tolerance, and embeddings get the tightest cosine floor
    parity = load_registry(arm64_registry).models[model].tolerance
    assert all(g.atol == parity.atol and g.rtol == parity.rtol for g in manifest.golden)

    # WHEN its goldens run under qemu-aarch64 -cpu neoverse-n1 THEN they match within tolerance
    problems = _goldens_on_emulated_classes(
        arm64_registry, model_dir, model, cache_dir(repo_root / "models.toml")
    )
    assert problems == []
