"""`digits`: a small CNN trained at build time on scikit-learn's bundled 8×8 digits.

Fixed seed, fixed stratified split, single-threaded deterministic training: the same weights (and so
the same artifact bytes) on every build. ~2 s of training reaches ≥ 97% test accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnkit_build.types import Array, ModelBundle

SEED = 0
TEST_FRACTION = 0.25
EPOCHS = 25
BATCH = 64
CALIBRATION_ITEMS = 256
CALIBRATION_BATCH = 32


def load_digits_split() -> tuple[Array, Array, Array, Array]:
    """(x_train, y_train, x_test, y_test); x as float32 (n, 1, 8, 8) in [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=SEED, stratify=y
    )
    return x_train, y_train, x_test, y_test


def make_network() -> Any:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def train(x: Array, y: Array) -> Any:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(SEED)
        network = make_network()
        optimizer = torch.optim.Adam(network.parameters(), lr=2e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        generator = torch.Generator().manual_seed(SEED)
        inputs, targets = torch.from_numpy(x), torch.from_numpy(y)
        network.train()
        for _ in range(EPOCHS):
            order = torch.randperm(len(inputs), generator=generator)
            for start in range(0, len(order), BATCH):
                index = order[start : start + BATCH]
                optimizer.zero_grad()
                loss_fn(network(inputs[index]), targets[index]).backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return network.eval()


def make_bundle() -> ModelBundle:
    x_train, y_train, x_test, y_test = load_digits_split()
    network = train(x_train, y_train)
    calibration = [
        {"pixels": x_train[start : start + CALIBRATION_BATCH]}
        for start in range(0, CALIBRATION_ITEMS, CALIBRATION_BATCH)
    ]
    golden_x = [x_test[:1], x_test[1:4]]
    return ModelBundle(
        module=network,
        example_inputs={"pixels": x_test[:3]},
        eval_inputs={"pixels": x_test},
        eval_labels=y_test,
        calibration=calibration,
        golden_requests=[{"inputs": batch.tolist()} for batch in golden_x],
        golden_feeds=[{"pixels": batch} for batch in golden_x],
    )
