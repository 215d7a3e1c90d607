"""`fnkit build` on bad input: one clear paragraph, a non-zero exit, nothing half-written."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fnkit_ops.cli import main

GOOD_MLP = "mlp"


@pytest.mark.parametrize(
    ("registry", "model", "code", "expected"),
    [
        pytest.param("mlp", "nope", 2, "unknown model 'nope'", id="unknown-model"),
        pytest.param("corrupt", "m", 2, "is not valid TOML", id="corrupt-registry"),
        pytest.param(
            "no-such-factory",
            "m",
            1,
            "factory no_such_module:make failed to import: ModuleNotFoundError",
            id="factory-import-fails",
        ),
        pytest.param(
            "raising-factory", "m", 1, "raised RuntimeError: dataset server unreachable", id="factory-raises"
        ),
        pytest.param(
            "unexportable", "m", 1, "model 'm' cannot be exported with torch.onnx.export", id="unexportable"
        ),
        pytest.param(
            "specialized", "m", 1, "is not dynamic where the registry says so", id="specialized-axis"
        ),
        pytest.param("no-calibration", "m", 1, "needs a calibration set", id="missing-calibration"),
        pytest.param("noisy", "m", 1, "ONNX Runtime fp32 differs", id="parity"),
        pytest.param("hostile-no-fp32", "m", 1, "no candidate passes the gate", id="failed-gate"),
        pytest.param(
            "golden-mismatch",
            "m",
            1,
            "golden_requests[0] becomes input 'x' shape (2, 8)",
            id="golden-feeds-not-what-the-function-decodes",
        ),
        pytest.param(
            "golden-over-limit",
            "m",
            1,
            "golden_requests[0] is not a request the function accepts (BatchSizeError",
            id="golden-request-over-the-limits",
        ),
    ],
)
def test_bad_input_is_one_paragraph_and_nonzero(
    write_registry: Callable[[str], Path],
    templates: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    registry: str,
    model: str,
    code: int,
    expected: str,
) -> None:
    # GIVEN a registry with one defect
    texts = {
        "mlp": templates.mlp("m", "mlp"),
        "corrupt": "[models.m\nfactory = ",
        "no-such-factory": templates.mlp("m", "mlp").replace("tiny_models:mlp", "no_such_module:make"),
        "raising-factory": templates.mlp("m", "broken"),
        "unexportable": templates.mlp("m", "unexportable", quantization="[]"),
        "specialized": templates.mlp("m", "specialized", quantization="[]"),
        "no-calibration": templates.mlp("m", "mlp", quantization='["int8-static-qdq"]').replace(
            'factory = "tiny_models:mlp"', 'factory = "tiny_models:mlp"\nfactory_args = { calibrate = false }'
        ),
        "noisy": templates.two_outputs("m", "noisy"),
        "hostile-no-fp32": templates.mlp(
            "m", "hostile", quantization='["int8-dynamic"]', gate_extra=", max_size_ratio = 0.5"
        ),
        "golden-mismatch": templates.mlp("m", "mlp", quantization="[]").replace(
            'factory = "tiny_models:mlp"',
            'factory = "tiny_models:mlp"\nfactory_args = { golden_feeds_shifted = true }',
        ),
        "golden-over-limit": templates.mlp("m", "mlp", quantization="[]").replace(
            'factory = "tiny_models:mlp"', 'factory = "tiny_models:mlp"\nlimits = { max_batch = 1 }'
        ),
    }
    path = write_registry(texts[registry])
    out = tmp_path / "out"

    # WHEN built through the `fnkit` command
    exit_code = main(["build", model, "--registry", str(path), "--out", str(out)])

    # THEN the exit code is non-zero, stderr holds one paragraph naming the cause, nothing was written
    err = capsys.readouterr().err.strip()
    assert exit_code == code
    assert err.startswith("fnkit build: error: ") and expected in err
    assert "\n" not in err and "Traceback" not in err
    assert not (out / model / "model").exists()


def test_parity_error_names_both_outputs(
    write_registry: Callable[[str], Path], templates: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_registry(templates.two_outputs("m", "noisy"))
    assert main(["build", "--registry", str(path), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "y: max abs" in err and "z: max abs" in err


def test_list_and_progress(
    write_registry: Callable[[str], Path],
    templates: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    progress_lines: io.StringIO,
) -> None:
    # GIVEN a registry with one good model
    path = write_registry(templates.mlp("m", "mlp"))

    # WHEN listed, then built
    assert main(["build", "--list", "--registry", str(path)]) == 0
    listed = capsys.readouterr().out
    assert main(["build", "--registry", str(path), "--out", str(tmp_path / "out")]) == 0
    out, progress = capsys.readouterr().out, progress_lines.getvalue()

    # THEN the list names the model, and the build reports each step with a time and ends with a summary
    assert listed.startswith("m\tclassification\ttiny_models:mlp")
    for step in ("factory", "export", "parity", "quantize int8-dynamic", "gate fp32", "chosen:", "package"):
        assert f"[m] {step}" in progress
    assert "summary" in out and "size fp32 → chosen" in out
    assert (tmp_path / "out" / "m" / "model" / "manifest.json").is_file()
