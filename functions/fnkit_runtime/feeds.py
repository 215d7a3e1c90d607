"""A request body's `inputs` -> validated graph inputs: the function's way, which the build's golden
samples (and render's request check) reuse so that what the build records is what the function will feed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fnkit_runtime.codec import decode_tensors
from fnkit_runtime.manifest import Limits, TensorSpec
from fnkit_runtime.validation import check_batch, validate_tensors

if TYPE_CHECKING:  # `fnkit_runtime.text` is imported by text models only (session.load_model)
    from fnkit_runtime.text import EncodedTexts, TextEncoder


def tensor_feeds(
    inputs: Any, signature: list[TensorSpec], limits: Limits
) -> tuple[dict[str, np.ndarray], int]:
    """A tensor body's `inputs` as validated graph feeds and the batch size."""
    arrays = decode_tensors(inputs, signature)
    return arrays, validate_tensors(arrays, signature, limits)


def text_rows(inputs: Any, limits: Limits, encoder: TextEncoder, truncate: bool | None) -> EncodedTexts:
    """A text body's `inputs` as single-item token rows (the batch size is their count)."""
    from fnkit_runtime.text import parse_texts

    texts = parse_texts(inputs, limits)
    check_batch(len(texts), limits)
    return encoder.encode(texts, truncate)
