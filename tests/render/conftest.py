"""Render-test fixtures: a user's project outside the repository, built once, and repo copies.

The outside project is a temporary folder holding only `models.toml` and the factory module it names
(`timeseries_model.py`, beside this file): nothing else of the kit's repository is copied into it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]

TIMESERIES_ENTRY = """
[models.{name}]
factory = "timeseries_model:make_bundle"
task = "classification"
labels = ["down", "up"]
quantization = ["int8-static-qdq"]
tolerance = {{ atol = 1e-4, rtol = 1e-3 }}
gate = {{ metric = "accuracy_drop", threshold = 0.05 }}
function = {{ memory_mb = 512, architecture = "x86_64", timeout_s = 10, reserved_concurrency = 5 }}
alarms = {{ error_rate_percent = 2.5, inference_p99_ms = 50 }}
limits = {{ max_batch = 8 }}

[models.{name}.inputs.signal]
dtype = "float32"
shape = ["batch", 3, "time"]

[models.{name}.outputs.logits]
dtype = "float32"
shape = ["batch", 2]
"""


def timeseries_entry(name: str = "trend") -> str:
    return TIMESERIES_ENTRY.format(name=name)


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def registry(self) -> Path:
        return self.root / "models.toml"


def new_project(root: Path, registry_text: str) -> Project:
    """A project folder: models.toml and the factory module, nothing else."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "models.toml").write_text(registry_text, encoding="utf-8")
    shutil.copy(HERE / "timeseries_model.py", root / "timeseries_model.py")
    return Project(root)


@pytest.fixture(scope="session")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A user's project outside the repo: built, then rendered, by the fnkit CLI alone."""
    from fnkit_ops.cli import main

    project = new_project(tmp_path_factory.mktemp("user-project"), timeseries_entry())
    assert main(["build", "--registry", str(project.registry)]) == 0
    assert main(["render", "--registry", str(project.registry)]) == 0
    return project


@pytest.fixture
def repo_copy(tmp_path: Path) -> Project:
    """The kit's registry in a fresh folder (its factories are the kit's importable examples)."""
    return new_project(tmp_path / "repo-copy", (REPO_ROOT / "models.toml").read_text(encoding="utf-8"))
