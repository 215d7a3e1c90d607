"""The shipped MiniLM factory and the registry must agree on how text becomes tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from fnkit_ops.cli import main


def test_registry_max_length_that_differs_from_the_factory_stops_the_build(
    repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the shipped registry with minilm's text.max_length lowered below the factory's 256
    text = (repo_root / "models.toml").read_text()
    assert "max_length = 256" in text
    registry = tmp_path / "models.toml"
    registry.write_text(text.replace("max_length = 256", "max_length = 128"))

    # WHEN building minilm from it
    code = main(["build", "minilm", "--registry", str(registry), "--out", str(tmp_path / "out")])

    # THEN the long golden sentence decodes differently in the function, and the build stops early
    # with nothing written
    assert code == 1
    err = capsys.readouterr().err
    assert "golden_requests[2]" in err
    assert "max_length" in err
    assert not (tmp_path / "out" / "minilm").exists()
