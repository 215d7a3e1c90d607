"""Golden samples: request bodies and the chosen artifact's outputs, for smoke tests after a deploy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fnkit_runtime.manifest import GoldenSample

from fnkit_build.registry import ModelSpec
from fnkit_build.runner import open_session, run_session
from fnkit_build.types import Feeds

QUANTIZED_ATOL = 2e-3
QUANTIZED_RTOL = 1e-2
"""Int8 kernels may round differently on another CPU; fp32 goldens use the model's parity tolerance."""


def golden_samples(
    spec: ModelSpec, artifact: Path, requests: list[dict[str, Any]], feeds: list[Feeds], quantized: bool
) -> list[GoldenSample]:
    """Run each golden request's inputs through the artifact (one batch per request, as the function)."""
    session = open_session(artifact, threads=1)
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
