"""Quantization candidates with onnxruntime.quantization, with the target architecture's settings.

- `int8-static-qdq`: QDQ int8 with MinMax calibration over real samples. The right choice for
  convolutions: dynamic quantization turns Conv into ConvInteger, 4–15× slower on CPU.
- `int8-dynamic` / `int8-dynamic-per-channel`: weights int8, activations quantized at run time; for
  Linear and attention models. Per-channel keeps MiniLM's cosine above 0.99 (0.968 without).
- `reduce_range` (7-bit weights) avoids the u8×s8 int16 saturation of x86 CPUs without VNNI; ARM's
  int8 dot-product kernels do not saturate, so arm64 never needs it. The preset comes from the
  registry's target CPU classes (`fnkit_build.cpus.target_preset`), never from the build host.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fnkit_runtime.vocabulary import QUANTIZATION_CANDIDATES, Candidate

from fnkit_build.cpus import QuantPreset
from fnkit_build.exceptions import CalibrationError, QuantizationError
from fnkit_build.registry import ModelSpec
from fnkit_build.types import Feeds


@dataclass(frozen=True)
class NodeSelection:
    """Which nodes a candidate quantizes, by the names the quantizer sees (the dynamic quantizer
    renames a `Gemm` to `<name>_MatMul` before it matches them): only `only` when given, never `exclude`."""

    only: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()

    def quantizer_kwargs(self) -> dict[str, list[str]]:
        kwargs = {"nodes_to_exclude": list(self.exclude)} if self.exclude else {}
        if self.only is not None:
            kwargs["nodes_to_quantize"] = list(self.only)
        return kwargs


class _Reader:
    """A CalibrationDataReader over the factory's real calibration batches."""

    def __init__(self, samples: Sequence[Feeds]) -> None:
        self._samples = list(samples)
        self._iter: Iterator[Feeds] = iter(self._samples)

    def get_next(self) -> Feeds | None:
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = iter(self._samples)


def check_calibration(spec: ModelSpec, samples: Sequence[Feeds] | None) -> Sequence[Feeds]:
    """The calibration set a static candidate needs, validated against the registry's inputs."""
    if not samples:
        raise CalibrationError(
            f"model {spec.name!r}: candidate int8-static-qdq needs a calibration set, but the factory "
            f"{spec.factory} returned none. Return real input batches in ModelBundle.calibration, or "
            "remove int8-static-qdq from the model's quantization list."
        )
    for index, sample in enumerate(samples):
        for tensor in spec.inputs:
            value = sample.get(tensor.name)
            if value is None or value.dtype != np.dtype(tensor.dtype) or value.ndim != len(tensor.shape):
                got = "missing" if value is None else f"{value.dtype} rank {value.ndim}"
                raise CalibrationError(
                    f"model {spec.name!r}: calibration sample {index} input {tensor.name!r} is {got}; "
                    f"expected {tensor.dtype} rank {len(tensor.shape)}"
                )
    return samples


def quantize(
    candidate: str,
    source: Path,
    target: Path,
    *,
    preset: QuantPreset,
    calibration: Sequence[Feeds] | None,
    spec: ModelSpec,
    nodes: NodeSelection | None = None,
) -> Path:
    """Write the quantized `candidate` of `source` to `target` (only/except `nodes` when given)."""
    if candidate not in QUANTIZATION_CANDIDATES:
        raise QuantizationError(f"model {spec.name!r}: unknown quantization candidate {candidate!r}")
    selection = (nodes or NodeSelection()).quantizer_kwargs()
    kind = Candidate(candidate)
    reader: Any = _Reader(check_calibration(spec, calibration)) if kind.needs_calibration else None
    with quantizer_run(spec, candidate):
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

        if reader is not None:
            quantize_static(
                str(source),
                str(target),
                reader,
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=preset.reduce_range,
                calibrate_method=CalibrationMethod.MinMax,
                **selection,
            )
        else:
            dynamic_int8(source, target, per_channel=kind.per_channel, preset=preset, **selection)
    return target


def dynamic_int8(
    source: Path, target: Path, *, per_channel: bool, preset: QuantPreset, **options: Any
) -> None:
    """onnxruntime's dynamic quantization, int8 weights, with the target preset's `reduce_range`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        reduce_range=preset.reduce_range,
        **options,
    )


@contextlib.contextmanager
def quantizer_run(spec: ModelSpec, candidate: str) -> Iterator[None]:
    """A run of onnxruntime.quantization: its failure is the build's QuantizationError, and the advice
    it logs on the root logger ("consider pre-processing") is quieted."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    except Exception as exc:
        raise QuantizationError(
            f"model {spec.name!r}: onnxruntime.quantization failed on candidate {candidate}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        root.setLevel(level)
