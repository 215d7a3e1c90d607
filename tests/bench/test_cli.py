"""`fnkit bench` argument errors and cheap import (no measurement runs here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fnkit_ops.cli import main


def test_importing_the_subcommand_loads_no_heavy_library() -> None:
    code = (
        "import sys, fnkit_ops.bench.cli\n"
        "heavy = {'torch', 'onnxruntime', 'matplotlib', 'numpy', 'fnkit_build'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(["nosuchmodel"], "unknown model", id="unknown model"),
        pytest.param(["digits", "--cold-fraction", "2"], "cold-fraction", id="cold fraction"),
        pytest.param(["digits", "--runs", "0"], "--runs", id="zero runs"),
        pytest.param(["digits", "--prices", "/nonexistent/prices.json"], "price table", id="missing prices"),
        pytest.param(["digits", "--artifacts", "/nonexistent"], "not built", id="not built"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    # WHEN the bench is started with a bad argument
    code = main(["bench", "--out", str(tmp_path / "out"), *extra])
    # THEN it stops with exit code 2 and says why
    assert code == 2
    assert message in capsys.readouterr().err
