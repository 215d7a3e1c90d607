"""What a model factory returns: the torch module plus the data the build needs to check it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import torch

Array = npt.NDArray[Any]
Feeds = dict[str, Array]
"""Graph input name -> array, batch first."""


@dataclass
class ModelBundle:
    """A factory's result. Arrays are numpy so that torch and ONNX Runtime see the same bytes.

    - `example_inputs` drive the export: batch of at least 2 (and a sequence length other than the
      batch size) so the exporter cannot mistake a dynamic axis for a constant.
    - `eval_inputs` (+ `eval_labels` for classification) are the gate's evaluation set; the torch
      module's outputs on them are the reference.
    - `calibration` holds real input batches for static quantization (None if the model has none).
    - `tokenizer_dir` holds the tokenizer files shipped with a text model.
    - `golden_requests` are request bodies (`{"inputs": ...}`) whose graph inputs are
      `golden_feeds` (same order); the manifest records the chosen artifact's outputs for them.
    """

    module: torch.nn.Module
    example_inputs: Feeds
    eval_inputs: Feeds
    eval_labels: Array | None = None
    calibration: Sequence[Feeds] | None = None
    tokenizer_dir: Path | None = None
    golden_requests: list[dict[str, Any]] = field(default_factory=list)
    golden_feeds: list[Feeds] = field(default_factory=list)


def batch_size(feeds: Mapping[str, Array]) -> int:
    """The (shared) first dimension of a set of inputs."""
    sizes = {int(np.shape(value)[0]) for value in feeds.values()}
    if len(sizes) != 1:
        raise ValueError(f"inputs disagree on batch size: {sorted(sizes)}")
    return sizes.pop()


def take(feeds: Mapping[str, Array], start: int, stop: int) -> Feeds:
    """Rows [start, stop) of every input."""
    return {name: value[start:stop] for name, value in feeds.items()}
