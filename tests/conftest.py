"""Shared fixtures: the shipped example models, built once per test session (for x86_64, and for arm64
by the emulated tests)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fnkit_build.progress import capture

# powertools reads these when fnkit_runtime.observability is first imported, and test modules of
# several areas import it (the build decodes golden requests with the runtime's code): set them here,
# in the root conftest, which pytest loads before collecting any test module.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "fnkit-test")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "fnkit-test-service")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def progress_lines() -> Iterator[io.StringIO]:
    """The test's progress lines (`fnkit_build.progress`), kept apart from stderr, which then holds
    only what a test asserts there: the one-paragraph errors."""
    with capture() as lines:
        yield lines


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def built_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run `fnkit build` on the shipped registry once; returns the output root (<root>/<model>/model/)."""
    from fnkit_ops.cli import main

    out = tmp_path_factory.mktemp("functions")
    code = main(["build", "--out", str(out)])
    assert code == 0, "fnkit build failed on the shipped models"
    return out


@pytest.fixture(scope="session")
def arm64_registry(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped registry with every function's architecture arm64."""
    text = (repo_root / "models.toml").read_text(encoding="utf-8")
    assert 'architecture = "x86_64"' in text and 'architecture = "arm64"' not in text
    path = tmp_path_factory.mktemp("arm64") / "models.toml"
    path.write_text(text.replace('architecture = "x86_64"', 'architecture = "arm64"'), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def arm64_models(arm64_registry: Path, repo_root: Path) -> Path:
    """The shipped models built for arm64 (emulation root cached in the repo's .fnkit-cache); used by
    the `emulated` tests only, as the build verifies them under qemu in the arm64 root."""
    from fnkit_build.project import cache_dir
    from fnkit_ops.cli import main

    out = arm64_registry.parent / "functions"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FNKIT_CACHE_DIR", str(cache_dir(repo_root / "models.toml")))
        assert main(["build", "--registry", str(arm64_registry), "--out", str(out)]) == 0
    return out
