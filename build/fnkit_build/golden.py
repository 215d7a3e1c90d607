"""Golden samples: request bodies and the chosen artifact's outputs, for smoke tests after a deploy.

The manifest's contract is that the *function* reproduces them, so the build turns each golden request
into graph inputs with the function's own code (`fnkit_runtime` decoding, validation, limits and, for
text models, its tokenizer settings) and runs the artifact with the function's optimization level.
Those inputs must equal the factory's `golden_feeds`: if they differ, the factory prepares inputs
(and so its evaluation set) differently from the function, and the build fails before any work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fnkit_runtime.batching import Execution, run_items, split_rows, stack_rows
from fnkit_runtime.exceptions import ModelLoadError, RequestError
from fnkit_runtime.manifest import GoldenSample, TensorSpec
from fnkit_runtime.text import TextEncoder

from fnkit_build.exceptions import FactoryError
from fnkit_build.inference import open_served_session
from fnkit_build.package import shipped_text
from fnkit_build.registry import ModelSpec
from fnkit_build.types import Array, Feeds, ModelBundle
from fnkit_build.verify import GoldenTolerance


@dataclass(frozen=True)
class ServedRequest:
    """A golden request as the function runs it: single-item rows, and the batch they pad to."""

    feeds: Feeds
    rows: list[Feeds]
    lengths: list[int]


def text_encoder(spec: ModelSpec, bundle: ModelBundle) -> TextEncoder | None:
    """The function's own tokenizer wrapper over the factory's tokenizer file (None for tensor models)."""
    if spec.text is None:
        return None
    assert bundle.tokenizer_dir is not None, "text models ship a tokenizer (checked with the bundle)"
    text = shipped_text(spec.text, bundle.tokenizer_dir / spec.text.tokenizer_file)
    return TextEncoder(bundle.tokenizer_dir, text, _signature(spec))


def _signature(spec: ModelSpec) -> list[TensorSpec]:
    return list(spec.inputs)


def _served(spec: ModelSpec, encoder: TextEncoder | None, request: dict[str, Any]) -> ServedRequest:
    """The graph inputs the function makes from `request` (its own `fnkit_runtime.feeds`, as `predict`)."""
    from fnkit_runtime.feeds import tensor_feeds, text_rows
    from fnkit_runtime.validation import body_bytes, check_body, check_body_size

    body = check_body(request)
    check_body_size(body_bytes(body), spec.limits)
    if encoder is None:
        arrays, size = tensor_feeds(body["inputs"], _signature(spec), spec.limits)
        return ServedRequest(arrays, split_rows(arrays), [0] * size)
    encoded = text_rows(body["inputs"], spec.limits, encoder, body.get("truncate"))
    return ServedRequest(stack_rows(encoded.rows, encoder.pad_values), encoded.rows, encoded.lengths)


def _describe(array: Array) -> str:
    return f"shape {tuple(array.shape)} {array.ravel()[:6].tolist()}"


def served_golden_feeds(spec: ModelSpec, bundle: ModelBundle) -> list[ServedRequest]:
    """Each golden request as the function will feed it; FactoryError if it is refused or differs."""
    result = []
    encoder = text_encoder(spec, bundle)
    for index, (request, expected) in enumerate(
        zip(bundle.golden_requests, bundle.golden_feeds, strict=True)
    ):
        where = f"model {spec.name!r}: golden_requests[{index}]"
        try:
            served = _served(spec, encoder, request)
        except (RequestError, ModelLoadError) as exc:
            raise FactoryError(
                f"{where} is not a request the function accepts ({type(exc).__name__}: {exc}); "
                "golden requests are replayed against the deployed function"
            ) from exc
        for name, value in served.feeds.items():
            want = expected[name]
            if value.shape != want.shape or not np.array_equal(value, want):
                raise FactoryError(
                    f"{where} becomes input {name!r} {_describe(value)} in the function, but "
                    f"golden_feeds[{index}] holds {_describe(want)}: the factory prepares inputs differently "
                    "from the function (for text: the tokenizer, max_length or padding), so neither its "
                    "gate nor its golden outputs would describe what the function serves"
                )
        result.append(served)
    return result


def golden_samples(
    spec: ModelSpec,
    artifact: Path,
    requests: list[dict[str, Any]],
    served: list[ServedRequest],
    tolerances: list[GoldenTolerance],
    *,
    optimized: bool = False,
    execution: str = Execution.BATCH.value,
    pad_values: Mapping[str, int] | None = None,
    outputs: Sequence[Mapping[str, Array]] | None = None,
) -> list[GoldenSample]:
    """Run each golden request through the artifact as the function does (its execution, its level).

    An offline-optimized artifact runs with no further graph passes, as the function loads it. Each
    sample's tolerance comes from the verification across target CPU classes (`verify`), which also
    gives the `outputs` to record when the build host is not one of the function's CPUs.
    """
    if outputs is None:
        session = open_served_session(artifact, optimized=optimized)
        names = [tensor.name for tensor in spec.outputs]

        def run(feeds: Feeds) -> dict[str, Array]:
            return dict(zip(names, session.run(names, feeds), strict=True))

        outputs = [
            run_items(run, inputs.rows, inputs.lengths, Execution(execution), pad_values) for inputs in served
        ]
    samples = []
    for request, result, tolerance in zip(requests, outputs, tolerances, strict=True):
        samples.append(
            GoldenSample(
                request=request,
                outputs={name: value.tolist() for name, value in result.items()},
                atol=tolerance.atol,
                rtol=tolerance.rtol,
                cosine_min=tolerance.cosine_min,
            )
        )
    return samples
