"""--write-registry: the memory size changes, nothing else in the file does."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from fnkit_ops.bench.exceptions import RegistryEditError
from fnkit_ops.bench.registry_edit import write_memory_size


@pytest.fixture
def registry(repo_root: Path, write_file: Callable[[str, str], Path]) -> Path:
    return write_file("models.toml", (repo_root / "models.toml").read_text(encoding="utf-8"))


def test_inline_function_table_is_edited_in_place(registry: Path) -> None:
    # GIVEN the shipped registry
    before = registry.read_text(encoding="utf-8")
    # WHEN minilm gets 3008 MB
    changed = write_memory_size(registry, "minilm", 3008)
    # THEN only that value differs: comments and other models untouched
    after = registry.read_text(encoding="utf-8")
    assert changed
    assert tomllib.loads(after)["models"]["minilm"]["function"]["memory_mb"] == 3008
    differing = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(differing) == 1 and "3008" in differing[0][1]


def test_subtable_form_is_edited(write_file: Callable[[str, str], Path]) -> None:
    path = write_file(
        "models.toml",
        "# mine\n[models.a]\ntask = 'tensor'\n\n[models.a.function]\nmemory_mb = 512  # keep\n"
        "architecture = 'arm64'\n",
    )
    assert write_memory_size(path, "a", 1024)
    text = path.read_text(encoding="utf-8")
    assert "memory_mb = 1024  # keep" in text and text.startswith("# mine")


def test_same_value_is_a_no_op(registry: Path) -> None:
    current = tomllib.loads(registry.read_text(encoding="utf-8"))["models"]["digits"]["function"]["memory_mb"]
    before = registry.stat().st_mtime_ns
    assert not write_memory_size(registry, "digits", current)
    assert registry.stat().st_mtime_ns == before


@pytest.mark.parametrize(
    ("model", "memory", "message"),
    [
        pytest.param("nope", 1024, "no models.nope", id="unknown model"),
        pytest.param("digits", 64, "outside", id="too small"),
    ],
)
def test_bad_edits_are_errors(registry: Path, model: str, memory: int, message: str) -> None:
    with pytest.raises(RegistryEditError, match=message):
        write_memory_size(registry, model, memory)
