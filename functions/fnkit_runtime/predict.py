"""The prediction pipeline: request body -> validated tensors -> session -> response body."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fnkit_runtime import constants as c
from fnkit_runtime import observability
from fnkit_runtime.batching import Execution, Runner, run_items, split_rows
from fnkit_runtime.codec import encode_outputs
from fnkit_runtime.exceptions import BodyFormatError
from fnkit_runtime.feeds import tensor_feeds, text_rows
from fnkit_runtime.session import LoadedModel, input_rejections
from fnkit_runtime.validation import check_outputs
from fnkit_runtime.vocabulary import Task


def _profiled(model: LoadedModel) -> Runner:
    from fnkit_runtime.profiling import run_profiled  # FNKIT_PROFILE only: keeps tempfile off cold start

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with input_rejections():
            results, slowest = run_profiled(
                model.model_path, model.session_options, feeds, model.output_names, c.PROFILE_TOP_OPERATORS
            )
        observability.logger.info(
            "onnxruntime profile",
            extra={"slowest_operators": [vars(op) for op in slowest]},
        )
        return dict(zip(model.output_names, results, strict=True))

    return run


def _runner(model: LoadedModel) -> Runner:
    return _profiled(model) if model.config.profile else model.run


Plan = Callable[[], dict[str, np.ndarray]]
"""The model calls of one request, ready to run (so inference time excludes decoding)."""


def plan_text(
    model: LoadedModel, inputs: Any, truncate: bool | None
) -> tuple[Plan, int, list[dict[str, Any]]]:
    """A text request's calls as the manifest's execution says, its batch size and per-item tokens."""
    assert model.encoder is not None, "text models have an encoder"
    encoded = text_rows(inputs, model.limits, model.encoder, truncate)
    pad_values = model.encoder.pad_values

    def run() -> dict[str, np.ndarray]:
        return run_items(_runner(model), encoded.rows, encoded.lengths, model.execution, pad_values)

    return run, len(encoded.rows), encoded.items()


def plan_tensors(model: LoadedModel, inputs: Any) -> tuple[Plan, int]:
    """A tensor request's calls (one, or one per item as the manifest says) and its batch size."""
    signature = model.manifest.signature
    arrays, batch = tensor_feeds(inputs, signature.inputs, model.limits)
    if model.execution is Execution.BATCH:
        return lambda: dict(_runner(model)(arrays)), batch
    rows = split_rows(arrays)
    return lambda: run_items(_runner(model), rows, [0] * batch, model.execution), batch


def _probabilities(rows: np.ndarray) -> np.ndarray:
    """Rows that already are distributions stay as they are; logits go through a softmax."""
    rows = rows.astype(np.float64)
    # |sum - 1| <= 1e-3 per row, as np.allclose(sums, 1, atol=1e-3) with rtol's 1e-5 of 1 folded in
    # (one reduction instead of allclose's several: this runs on every classification request)
    if rows.min() >= 0 and float(np.abs(rows.sum(axis=1) - 1.0).max()) <= 1e-3 + 1e-5:
        return rows
    shifted = np.exp(rows - rows.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities


def predictions(model: LoadedModel, outputs: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """Top label and score per item for classification models; [] for other tasks."""
    first = outputs[model.output_names[0]]
    if model.manifest.task != Task.CLASSIFICATION or first.ndim != 2:
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
    """Answer one validated body (`{"inputs": ...}`, and `"truncate"` for text models).

    Text answers carry `items`: per item, its token count before truncation and whether it was
    truncated. Inference time covers every model call of the request, not its decoding.
    """
    truncate = body.get("truncate")
    items: list[dict[str, Any]] | None = None
    if model.encoder is not None:
        run, batch, items = plan_text(model, body["inputs"], truncate)
    elif truncate is not None:
        raise BodyFormatError('"truncate" applies to text models only')
    else:
        run, batch = plan_tensors(model, body["inputs"])
    start = time.perf_counter()
    outputs = run()
    inference_ms = (time.perf_counter() - start) * 1000.0
    check_outputs(outputs, model.manifest.signature.outputs, batch)
    observability.record_inference(inference_ms, batch)
    answer = {
        "model": model.manifest.model,
        "model_version": model.manifest.model_version,
        "function_version": function_version,
        "batch_size": batch,
        "outputs": encode_outputs(outputs),
        "predictions": predictions(model, outputs),
    }
    if items is not None:
        answer["items"] = items
    return answer
