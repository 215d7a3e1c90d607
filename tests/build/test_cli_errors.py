"""`fnkit build` on bad input: one clear paragraph, a non-zero exit, nothing half-written."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fnkit_ops.cli import main

from tests.build.conftest import Templates

GOOD_MLP = "mlp"


def _with_line(text: str, line: str) -> str:
    """The registry text with one more line after the tiny mlp's factory."""
    factory = 'factory = "tiny_models:mlp"'
    return text.replace(factory, f"{factory}\n{line}")


MLP = Templates.mlp("m", "mlp")
MLP_UNQUANTIZED = Templates.mlp("m", "mlp", quantization="[]")


@pytest.mark.parametrize(
    ("text", "model", "code", "expected"),
    [
        pytest.param(MLP, "nope", 2, "unknown model 'nope'", id="unknown-model"),
        pytest.param("[models.m\nfactory = ", "m", 2, "is not valid TOML", id="corrupt-registry"),
        pytest.param(
            MLP.replace("tiny_models:mlp", "no_such_module:make"),
            "m",
            1,
            "factory no_such_module:make failed to import: ModuleNotFoundError",
            id="factory-import-fails",
        ),
        pytest.param(
            Templates.mlp("m", "broken"),
            "m",
            1,
            "raised RuntimeError: dataset server unreachable",
            id="factory-raises",
        ),
        pytest.param(
            Templates.mlp("m", "unexportable", quantization="[]"),
            "m",
            1,
            "model 'm' cannot be exported with torch.onnx.export",
            id="unexportable",
        ),
        pytest.param(
            Templates.mlp("m", "specialized", quantization="[]"),
            "m",
            1,
            "is not dynamic where the registry says so",
            id="specialized-axis",
        ),
        pytest.param(
            _with_line(
                Templates.mlp("m", "mlp", quantization='["int8-static-qdq"]'),
                "factory_args = { calibrate = false }",
            ),
            "m",
            1,
            "needs a calibration set",
            id="missing-calibration",
        ),
        pytest.param(Templates.two_outputs("m", "noisy"), "m", 1, "ONNX Runtime fp32 differs", id="parity"),
        pytest.param(
            Templates.mlp(
                "m", "hostile", quantization='["int8-dynamic"]', gate_extra=", max_size_ratio = 0.5"
            ),
            "m",
            1,
            "no candidate passes the gate",
            id="failed-gate",
        ),
        pytest.param(
            _with_line(MLP_UNQUANTIZED, "factory_args = { golden_feeds_shifted = true }"),
            "m",
            1,
            "golden_requests[0] becomes input 'x' shape (2, 8)",
            id="golden-feeds-not-what-the-function-decodes",
        ),
        pytest.param(
            _with_line(MLP_UNQUANTIZED, "limits = { max_batch = 1 }"),
            "m",
            1,
            "golden_requests[0] is not a request the function accepts (BatchSizeError",
            id="golden-request-over-the-limits",
        ),
    ],
)
def test_bad_input_is_one_paragraph_and_nonzero(
    write_registry: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    model: str,
    code: int,
    expected: str,
) -> None:
    # GIVEN a registry with one defect
    path = write_registry(text)
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
