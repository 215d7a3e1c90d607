"""Golden samples: request bodies and the chosen artifact's outputs, for smoke tests after a deploy.

The manifest's contract is that the *function* reproduces them, so the build turns each golden request
into graph inputs with the function's own code (`fnkit_runtime` decoding, validation, limits and, for
text models, its tokenizer settings) and runs the artifact with the function's optimization level.
Those inputs must equal the factory's `golden_feeds`: if they differ, the factory prepares inputs
(and so its evaluation set) differently from the function, and the build fails before any work.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from fnkit_runtime.exceptions import ModelLoadError, RequestError
from fnkit_runtime.manifest import GoldenSample, TensorSpec, TextSpec, sha256_file

from fnkit_build.exceptions import FactoryError
from fnkit_build.registry import ModelSpec
from fnkit_build.runner import open_served_session, run_session
from fnkit_build.types import Array, Feeds, ModelBundle

QUANTIZED_ATOL = 2e-3
QUANTIZED_RTOL = 1e-2
"""Int8 kernels may round differently on another CPU; fp32 goldens use the model's parity tolerance."""


def _served(spec: ModelSpec, bundle: ModelBundle, request: dict[str, Any]) -> Feeds:
    """The graph inputs the function makes from `request` (same steps as `fnkit_runtime.predict`)."""
    from fnkit_runtime.codec import decode_tensors
    from fnkit_runtime.text import TextEncoder, parse_texts
    from fnkit_runtime.validation import check_batch, check_body, check_body_size, validate_tensors

    signature = [TensorSpec(t.name, t.dtype, list(t.shape)) for t in spec.inputs]
    limits = spec.limits
    body = check_body(request)
    check_body_size(len(json.dumps(body).encode("utf-8")), limits)
    if spec.text is None:
        arrays = decode_tensors(body["inputs"], signature)
        validate_tensors(arrays, signature, limits)
        return arrays
    assert bundle.tokenizer_dir is not None, "text models ship a tokenizer (checked with the bundle)"
    tokenizer = bundle.tokenizer_dir / spec.text.tokenizer_file
    text = TextSpec(
        tokenizer_file=spec.text.tokenizer_file,
        max_length=spec.text.max_length,
        graph_inputs=list(spec.text.graph_inputs),
        tokenizer_sha256=sha256_file(tokenizer),
    )
    texts = parse_texts(body["inputs"], limits)
    check_batch(len(texts), limits)
    return TextEncoder(bundle.tokenizer_dir, text, signature).encode(texts)


def _describe(array: Array) -> str:
    return f"shape {tuple(array.shape)} {array.ravel()[:6].tolist()}"


def served_golden_feeds(spec: ModelSpec, bundle: ModelBundle) -> list[Feeds]:
    """Each golden request as the function will feed it; FactoryError if it is refused or differs."""
    result = []
    for index, (request, expected) in enumerate(
        zip(bundle.golden_requests, bundle.golden_feeds, strict=True)
    ):
        where = f"model {spec.name!r}: golden_requests[{index}]"
        try:
            feeds = _served(spec, bundle, request)
        except (RequestError, ModelLoadError) as exc:
            raise FactoryError(
                f"{where} is not a request the function accepts ({type(exc).__name__}: {exc}); "
                "golden requests are replayed against the deployed function"
            ) from exc
        for name, value in feeds.items():
            want = expected[name]
            if value.shape != want.shape or not np.array_equal(value, want):
                raise FactoryError(
                    f"{where} becomes input {name!r} {_describe(value)} in the function, but "
                    f"golden_feeds[{index}] holds {_describe(want)}: the factory prepares inputs differently "
                    "from the function (for text: the tokenizer, max_length or padding), so neither its "
                    "gate nor its golden outputs would describe what the function serves"
                )
        result.append(feeds)
    return result


def golden_samples(
    spec: ModelSpec,
    artifact: Path,
    requests: list[dict[str, Any]],
    feeds: list[Feeds],
    *,
    quantized: bool,
    optimized: bool = False,
) -> list[GoldenSample]:
    """Run each golden request's inputs through the artifact (one batch per request, as the function).

    An offline-optimized artifact runs with no further graph passes, as the function loads it.
    """
    session = open_served_session(artifact, optimized=optimized)
    atol = max(spec.tolerance.atol, QUANTIZED_ATOL) if quantized else spec.tolerance.atol
    rtol = max(spec.tolerance.rtol, QUANTIZED_RTOL) if quantized else spec.tolerance.rtol
    samples = []
    for request, inputs in zip(requests, feeds, strict=True):
        outputs = run_session(session, inputs, spec)
        samples.append(
            GoldenSample(
                request=request,
                outputs={name: value.tolist() for name, value in outputs.items()},
                atol=atol,
                rtol=rtol,
            )
        )
    return samples
