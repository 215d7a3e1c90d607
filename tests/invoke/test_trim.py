"""The trim list (functions/trim.py) on a synthetic tree; its safety on real trees: test_end_to_end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fnkit_ops.invoke.taskroot import functions_source_dir, load_trim_module

KEPT = [
    "onnxruntime/__init__.py",
    "onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so",
    "onnxruntime/capi/libonnxruntime_providers_shared.so",
    "numpy/__init__.py",
    "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
    "numpy/testing/__init__.py",
    "numpy.libs/libscipy_openblas64_.so",
    "tokenizers/tokenizers.abi3.so",
    "aws_lambda_powertools/metrics/__init__.py",
    "fnkit_runtime/app.py",
    "model/model.onnx",
]
REMOVED = [
    "bin/f2py",
    "onnxruntime/transformers/optimizer.py",
    "onnxruntime/tools/symbolic_shape_infer.py",
    "onnxruntime/quantization/quantize.py",
    "onnxruntime/capi/libonnxruntime.so.1.32.0",
    "numpy/f2py/__init__.py",
    "numpy/_core/include/numpy/ndarrayobject.h",
    "numpy/_core/tests/test_umath.py",
    "numpy/tests/test_public_api.py",
    "numpy/linalg/tests/test_linalg.py",
    "numpy/_core/_umath_tests.cpython-311-x86_64-linux-gnu.so",
    "numpy/_core/_simd.cpython-311-x86_64-linux-gnu.so",
    "huggingface_hub/__init__.py",
    "huggingface_hub-2.4.0.dist-info/METADATA",
    "hf_xet/hf_xet.abi3.so",
    "numpy/__init__.pyi",
    "tokenizers/__init__.pyi",
]


def _tree(root: Path, files: list[str]) -> None:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 10)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    _tree(tmp_path, KEPT + REMOVED)
    return tmp_path


def test_trim_removes_the_listed_paths_and_keeps_the_rest(tree: Path) -> None:
    # WHEN the tree is trimmed
    result = load_trim_module().trim(tree)

    # THEN every listed path is gone, everything the runtime loads is kept, and the bytes are counted
    assert [rel for rel in REMOVED if (tree / rel).exists()] == []
    assert [rel for rel in KEPT if not (tree / rel).exists()] == []
    assert result.bytes_removed == 10 * len(REMOVED)
    assert "bin" in result.removed


def test_dry_run_removes_nothing(tree: Path) -> None:
    # WHEN trimming is only planned
    result = load_trim_module().trim(tree, dry_run=True)

    # THEN it reports the same bytes and every file is still there
    assert result.bytes_removed == 10 * len(REMOVED)
    assert all((tree / rel).exists() for rel in KEPT + REMOVED)


def test_every_pattern_has_a_reason() -> None:
    patterns = load_trim_module().TRIM_PATTERNS
    assert patterns and all(pattern and reason for pattern, reason in patterns)


def test_runs_as_a_script_as_the_dockerfile_runs_it(tree: Path) -> None:
    # WHEN trim.py runs as `python trim.py TARGET` with the standard library only (-S: no site-packages)
    script = functions_source_dir() / "trim.py"
    completed = subprocess.run(
        [sys.executable, "-S", str(script), str(tree)], capture_output=True, text=True, check=False
    )

    # THEN it succeeds, summarises, and the tree is trimmed
    assert completed.returncode == 0, completed.stderr
    assert f"trim: removed {len(REMOVED)} paths" in completed.stdout
    assert not (tree / "onnxruntime" / "transformers").exists()


def test_script_rejects_a_missing_target(tmp_path: Path) -> None:
    script = functions_source_dir() / "trim.py"
    completed = subprocess.run(
        [sys.executable, "-S", str(script), str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "is not a folder" in completed.stderr
