"""A user's own model for the project tests: a 1-D conv over a dynamic `time` axis, 3 channels in.

Copied into a temporary project folder beside its models.toml (nothing else of the kit's repository),
which makes it importable by `fnkit build --registry`. Trained in a second on synthetic data: the label
says whether the signal's first channel trends up over time.
"""

from __future__ import annotations

import numpy as np
import torch
from fnkit_build.types import ModelBundle
from torch import nn

CHANNELS = 3


class TrendNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(CHANNELS, 8, kernel_size=3, padding=1)
        self.head = nn.Linear(8, 2)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        features = torch.relu(self.conv(signal)).mean(dim=2)  # pooled over the dynamic time axis
        return self.head(features)


def _data(n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    slope = rng.choice([-1.0, 1.0], size=n)
    t = np.linspace(0, 1, length, dtype=np.float32)
    x = rng.normal(scale=0.3, size=(n, CHANNELS, length)).astype(np.float32)
    x[:, 0, :] += slope[:, None] * t[None, :]
    x[:, 0, :] -= x[:, 0, :].mean(axis=1, keepdims=True)
    return x, (slope > 0).astype(np.int64)


def make_bundle(length: int = 16) -> ModelBundle:
    torch.manual_seed(0)
    module = TrendNet()
    x, y = _data(512, length, seed=0)
    optimizer = torch.optim.Adam(module.parameters(), lr=0.05)
    for _ in range(60):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()
    module.eval()
    test_x, test_y = _data(128, length, seed=1)
    return ModelBundle(
        module=module,
        example_inputs={"signal": test_x[:2]},
        eval_inputs={"signal": test_x},
        eval_labels=test_y,
        calibration=[{"signal": x[i : i + 32]} for i in range(0, 128, 32)],
        golden_requests=[{"inputs": test_x[:2].tolist()}],
        golden_feeds=[{"signal": test_x[:2]}],
    )
