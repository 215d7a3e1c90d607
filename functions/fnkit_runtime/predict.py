"""The prediction pipeline: request body -> validated tensors -> session -> response body."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from fnkit_runtime import constants as c
from fnkit_runtime import observability
from fnkit_runtime.codec import decode_tensors, encode_outputs
from fnkit_runtime.profiling import run_profiled
from fnkit_runtime.session import LoadedModel, input_rejections
from fnkit_runtime.text import parse_texts
from fnkit_runtime.validation import check_batch, check_outputs, validate_tensors


def _feeds(model: LoadedModel, inputs: Any) -> tuple[dict[str, np.ndarray], int]:
    signature = model.manifest.signature
    if model.encoder is not None:
        texts = parse_texts(inputs, model.limits)
        check_batch(len(texts), model.limits)
        arrays = model.encoder.encode(texts)
        return arrays, len(texts)
    arrays = decode_tensors(inputs, signature.inputs)
    return arrays, validate_tensors(arrays, signature.inputs, model.limits)


def _run(model: LoadedModel, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not model.config.profile:
        return model.run(feeds)
    with input_rejections():
        results, slowest = run_profiled(
            model.model_path, model.session_options, feeds, model.output_names, c.PROFILE_TOP_OPERATORS
        )
    observability.logger.info(
        "onnxruntime profile",
        extra={"slowest_operators": [vars(op) for op in slowest]},
    )
    return dict(zip(model.output_names, results, strict=True))


def _probabilities(rows: np.ndarray) -> np.ndarray:
    """Rows that already are distributions stay as they are; logits go through a softmax."""
    rows = rows.astype(np.float64)
    if np.all(rows >= 0) and np.allclose(rows.sum(axis=1), 1.0, atol=1e-3):
        return rows
    shifted = np.exp(rows - rows.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities


def predictions(model: LoadedModel, outputs: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """Top label and score per item for classification models; [] for other tasks."""
    first = outputs[model.output_names[0]]
    if model.manifest.task != "classification" or first.ndim != 2:
        return []
    labels = model.manifest.labels or []
    probabilities = _probabilities(first)
    best = probabilities.argmax(axis=1)
    return [
        {
            "label": labels[index] if index < len(labels) else str(index),
            "score": float(probabilities[row, index]),
        }
        for row, index in enumerate(best.tolist())
    ]


def predict(model: LoadedModel, body: Mapping[str, Any], function_version: str) -> dict[str, Any]:
    """Answer one validated body (`{"inputs": ...}`)."""
    feeds, batch = _feeds(model, body["inputs"])
    start = time.perf_counter()
    outputs = _run(model, feeds)
    inference_ms = (time.perf_counter() - start) * 1000.0
    check_outputs(outputs, model.manifest.signature.outputs, batch)
    observability.record_inference(inference_ms, batch)
    return {
        "model": model.manifest.model,
        "model_version": model.manifest.model_version,
        "function_version": function_version,
        "batch_size": batch,
        "outputs": encode_outputs(outputs),
        "predictions": predictions(model, outputs),
    }
