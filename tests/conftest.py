"""Shared fixtures: the shipped example models, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

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
