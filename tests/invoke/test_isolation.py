"""The function process sees the standard library and its task root, nothing of the dev environment."""

from __future__ import annotations

import sys

from fnkit_ops.invoke import FunctionConfig, TaskRoot, run_invocations

DEV_ONLY = ["torch", "fnkit_build", "fnkit_ops", "onnx", "pytest", "boto3"]


def test_dev_packages_are_importable_here() -> None:
    # GIVEN the dev environment the tests run in: the packages below exist (else the next test proves nothing)
    import importlib.util

    assert all(importlib.util.find_spec(name) is not None for name in DEV_ONLY)


def test_task_root_process_cannot_import_dev_packages(
    trivial_root: TaskRoot, trivial_config: FunctionConfig
) -> None:
    # WHEN the handler tries to import torch, the build, the operations and other dev-only packages
    response = run_invocations(trivial_root.path, [{"imports": [*DEV_ONLY, "json"]}], trivial_config)
    answer = response.invocations[0].response()

    # THEN none of them is importable, while the standard library is
    assert answer["importable"] == {**dict.fromkeys(DEV_ONLY, False), "json": True}


def test_task_root_process_has_no_site_packages(
    trivial_root: TaskRoot, trivial_config: FunctionConfig
) -> None:
    # WHEN the handler reports its import path and flags
    answer = run_invocations(trivial_root.path, [{}], trivial_config).invocations[0].response()

    # THEN it runs without site (no user or system site-packages) and the venv is not on its path
    assert answer["flags"] == {"no_site": 1, "no_user_site": 1}
    assert not any("site-packages" in entry for entry in answer["sys_path"])
    assert not any(
        entry.startswith(sys.prefix) for entry in answer["sys_path"] if sys.prefix != sys.base_prefix
    )
    assert str(trivial_root.path.resolve()) in answer["sys_path"]
