"""Shared fixtures: the shipped example models, built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# powertools reads these when fnkit_runtime.observability is first imported, and test modules of
# several areas import it (the build decodes golden requests with the runtime's code): set them here,
# in the root conftest, which pytest loads before collecting any test module.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "fnkit-test")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "fnkit-test-service")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

REPO_ROOT = Path(__file__).resolve().parents[1]


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
