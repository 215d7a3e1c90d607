"""Fixtures of the local runtime's tests: a tiny task root with a standard-library handler."""

from __future__ import annotations

from pathlib import Path

import pytest
from fnkit_ops.invoke import FunctionConfig, TaskRoot, assemble_task_root

HANDLERS = Path(__file__).resolve().parent / "handlers"


@pytest.fixture(scope="session")
def trivial_root(tmp_path_factory: pytest.TempPathFactory) -> TaskRoot:
    """Only the runtime client (no requirements) plus `trivial.py`; the dependency layer is cached."""
    dest = tmp_path_factory.mktemp("trivial") / "task"
    return assemble_task_root(dest, [], {"trivial.py": HANDLERS / "trivial.py"})


@pytest.fixture
def trivial_config() -> FunctionConfig:
    return FunctionConfig(function_name="fnkit-trivial", memory_mb=512, handler="trivial.handler")
