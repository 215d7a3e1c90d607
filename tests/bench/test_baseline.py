"""The torch baseline: its model folder is rebuilt faithfully and its handler answers like fnkit's.

The handler runs in process here (the dev venv has torch); the full task root with the torch wheel
is exercised by the slow end-to-end test.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from fnkit_ops.bench.baseline.export import (
    HANDLER_FILE,
    model_definition,
    write_state_dict_model,
    write_transformers_model,
)
from fnkit_ops.bench.cold import model_load_ms
from fnkit_ops.bench.exceptions import BenchError
from torch import nn

_counter = itertools.count()


class TinyNet(nn.Module):
    """A custom (non-Sequential) module whose source is self-contained."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x))


class NeedsArgs(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(4, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def digits_like() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10)
    ).eval()


def load_handler(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("FNKIT_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("FNKIT_INTRA_OP_THREADS", "1")
    monkeypatch.setenv("FNKIT_MODEL_NAME", "digits")
    spec = importlib.util.spec_from_file_location(f"baseline_handler_{next(_counter)}", HANDLER_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sequential_definition_is_generated_from_layer_reprs() -> None:
    source = model_definition(digits_like())
    assert "def build_model()" in source
    assert "nn.Conv2d(1, 4, kernel_size=(3, 3)" in source


def test_state_dict_model_handler_reproduces_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a digits-like network written as definition + state dict
    net = digits_like()
    x = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
    labels = [str(i) for i in range(10)]
    written = write_state_dict_model(net, x, tmp_path / "model", output="logits", labels=labels)
    assert {p.name for p in written.model_dir.iterdir()} == {"baseline.json", "model_def.py", "state_dict.pt"}
    # WHEN the baseline handler (loaded as Lambda would import it) answers a direct invocation
    handler = load_handler(written.model_dir, monkeypatch)
    answer: dict[str, Any] = handler.handler({"inputs": x.tolist()}, None)
    # THEN its outputs are the module's, with one prediction per item
    with torch.inference_mode():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(answer["outputs"]["logits"]), expected, rtol=1e-6, atol=1e-6)
    assert answer["batch_size"] == 3
    assert [p["label"] for p in answer["predictions"]] == [str(i) for i in expected.argmax(axis=1)]


def test_handler_prints_its_load_time_as_emf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.zeros((2, 1, 8, 8), dtype=np.float32)
    written = write_state_dict_model(digits_like(), x, tmp_path / "model", output="logits", labels=None)
    load_handler(written.model_dir, monkeypatch)
    load = model_load_ms(capsys.readouterr().out)
    assert load is not None and load > 0


def test_custom_class_is_written_from_its_source(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = TinyNet().eval()
    x = np.ones((2, 4), dtype=np.float32)
    written = write_state_dict_model(net, x, tmp_path / "model", output="y", labels=None)
    assert "class TinyNet" in (written.model_dir / "model_def.py").read_text(encoding="utf-8")


def test_module_that_cannot_be_rebuilt_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="--skip-baseline"):
        write_state_dict_model(
            NeedsArgs(3), np.ones((2, 4), dtype=np.float32), tmp_path / "m", output="y", labels=None
        )


def test_transformers_baseline_matches_the_build_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the MiniLM folder the build's factory reads, written as the transformers baseline
    from fnkit_build.examples.minilm import make_encoder, model_dir, tokenize

    folder = model_dir()
    written = write_transformers_model(folder, tmp_path / "model", output="embedding", max_length=256)
    texts = ["A man is playing a guitar.", "The cat sleeps on the warm windowsill today."]
    # WHEN the baseline handler embeds two sentences
    handler = load_handler(written.model_dir, monkeypatch)
    answer = handler.handler({"inputs": texts}, None)
    # THEN the embeddings are the build's torch encoder's
    feeds = tokenize(texts, folder / "tokenizer.json")
    with torch.inference_mode():
        expected = make_encoder(folder)(*(torch.from_numpy(feeds[n]) for n in feeds)).numpy()
    np.testing.assert_allclose(np.asarray(answer["outputs"]["embedding"]), expected, atol=1e-5)


def test_transformers_baseline_needs_a_model_folder(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="Hugging Face"):
        write_transformers_model(tmp_path, tmp_path / "model", output="embedding", max_length=8)
