"""Build-test fixtures: temporary registries whose factories (tiny_models.py) sit beside them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

TINY_MLP = """
[models.{name}]
factory = "tiny_models:{factory}"
task = "classification"
labels = ["a", "b", "c", "d"]
quantization = {quantization}
tolerance = {{ atol = 1e-4, rtol = 1e-3 }}
gate = {{ metric = "accuracy_drop", threshold = {threshold} {gate_extra} }}
function = {{ memory_mb = 512, architecture = "x86_64" }}
{extra}
"""

TINY_CNN = """
[models.cnn]
factory = "tiny_models:tiny_cnn"
task = "classification"
labels = ["a", "b", "c", "d"]
quantization = ["int8-static-qdq"]
tolerance = { atol = 1e-4, rtol = 1e-3 }
gate = { metric = "accuracy_drop", threshold = 0.05, max_size_ratio = 0.5 }
function = { memory_mb = 512, architecture = "x86_64" }

"""

TWO_OUTPUTS = """
[models.{name}]
factory = "tiny_models:{factory}"
task = "tensor"
tolerance = {{ atol = 1e-4, rtol = 1e-3 }}
gate = {{ metric = "max_abs_error", threshold = 0.1 }}
function = {{ memory_mb = 512, architecture = "x86_64" }}

"""

SATURATING = """
[models.sat]
factory = "tiny_models:saturating"
task = "tensor"
quantization = ["int8-dynamic-per-channel"]
tolerance = {{ atol = 1e-4, rtol = 1e-3 }}
gate = {{ metric = "max_abs_error", threshold = 0.5 }}
function = {{ memory_mb = 512, architecture = "x86_64" {function_extra} }}

"""


def float32_tensors(
    model: str, inputs: dict[str, tuple[int, ...]], outputs: dict[str, tuple[int, ...]]
) -> str:
    """The registry tables of a model's float32 inputs and outputs, each shaped ["batch", *dims]."""
    tables = [
        f'[models.{model}.{kind}.{name}]\ndtype = "float32"\nshape = {json.dumps(["batch", *dims])}\n'
        for kind, tensors in (("inputs", inputs), ("outputs", outputs))
        for name, dims in tensors.items()
    ]
    return "\n".join(tables)


class Templates:
    """Registry text for the tiny models."""

    cnn = TINY_CNN + float32_tensors("cnn", {"img": (1, 6, 6)}, {"logits": (4,)})

    @staticmethod
    def mlp(
        name: str,
        factory: str,
        quantization: str = '["int8-dynamic"]',
        gate_extra: str = "",
        *,
        threshold: float = 0.02,
        extra: str = "",
    ) -> str:
        """A classifier on ["batch", 8] -> ["batch", 4]; `extra` is TOML after the model's `function` key."""
        return TINY_MLP.format(
            name=name,
            factory=factory,
            quantization=quantization,
            gate_extra=gate_extra,
            threshold=threshold,
            extra=extra,
        ) + float32_tensors(name, {"x": (8,)}, {"logits": (4,)})

    @staticmethod
    def saturating(function_extra: str = "") -> str:
        tensors = float32_tensors("sat", {"x": (64,)}, {"y": (4,)})
        return SATURATING.format(function_extra=function_extra) + tensors

    @staticmethod
    def two_outputs(name: str, factory: str) -> str:
        tensors = float32_tensors(name, {"x": (8,)}, {"y": (4,), "z": (8,)})
        return TWO_OUTPUTS.format(name=name, factory=factory) + tensors


@pytest.fixture
def templates() -> type[Templates]:
    return Templates


@pytest.fixture
def write_registry(tmp_path: Path) -> Callable[[str], Path]:
    """Write registry text to tmp_path/models.toml, with tiny_models.py beside it."""

    def write(text: str) -> Path:
        shutil.copyfile(HERE / "tiny_models.py", tmp_path / "tiny_models.py")
        path = tmp_path / "models.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
