"""How a model is served and which fused graphs the build tries: the registry's knobs, validated.

- `execution`: the ways the function may run a request's items, in order of preference
  (`fnkit_runtime.batching.Execution`); the build ships, for the chosen candidate, the first one
  that passes the batch-invariance gate. Default: text models `["length_buckets", "per_item"]`,
  others `["batch", "per_item"]`.
- `optimizer`: a transformer encoder the build may also export for onnxruntime's transformer
  optimizer (`onnxruntime.transformers.optimizer.optimize_model`), fuse, and quantize; the fused
  candidates are gated like any other. `factory_args` go to the factory for that export only (for
  Hugging Face models `attn_implementation = "eager"`: the optimizer's patterns do not match SDPA).
- `text.on_overflow` lives in the registry's text table (`fnkit_build.registry._text`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fnkit_runtime.manifest import EXECUTIONS
from fnkit_runtime.vocabulary import Candidate

if TYPE_CHECKING:
    from fnkit_build.registry import _Entry

OPTIMIZER_KEYS = ("model_type", "num_heads", "hidden_size", "factory_args", "quantization")
OPTIMIZER_MODEL_TYPES = ("bert", "bart", "gpt2", "t5", "vit", "clip", "unet", "phi", "swin")
"""`model_type`s of onnxruntime.transformers.optimizer this kit lets a registry name."""
FUSABLE_CANDIDATES = (Candidate.INT8_DYNAMIC, Candidate.INT8_DYNAMIC_PER_CHANNEL)
"""Quantizations of a fused graph: dynamic only (static QDQ does not cover the fused contrib ops)."""
FUSED_PREFIX = "fused-"
"""A fused candidate's name: `fused-fp32`, `fused-int8-dynamic-per-channel`, ..."""
FUSED_FP32 = FUSED_PREFIX + Candidate.FP32
"""The fused graph unquantized: an fp32 candidate like `fp32` itself."""
TEXT_EXECUTIONS = ("length_buckets", "per_item")
TENSOR_EXECUTIONS = ("batch", "per_item")


@dataclass(frozen=True)
class OptimizerDecl:
    """The registry's `optimizer` table: arguments of onnxruntime's transformer optimizer."""

    model_type: str
    num_heads: int
    hidden_size: int
    factory_args: Mapping[str, Any] = field(default_factory=dict)
    quantization: tuple[str, ...] = FUSABLE_CANDIDATES[1:]

    @property
    def candidates(self) -> tuple[str, ...]:
        """The fused candidates' names, the fused fp32 graph first."""
        return (FUSED_FP32, *(FUSED_PREFIX + name for name in self.quantization))


def fused_base(candidate: str) -> Candidate:
    """The candidate a fused one is made as (`fused-int8-dynamic` -> int8-dynamic, `fused-fp32` -> fp32);
    a plain candidate is its own base. Its properties (fp32, dynamic, per-channel) are the base's;
    repaired names (`<base>-repaired`) are not candidates of the vocabulary."""
    return Candidate(candidate.removeprefix(FUSED_PREFIX))


def executions(entry: _Entry, text: bool) -> tuple[str, ...]:
    default = list(TEXT_EXECUTIONS if text else TENSOR_EXECUTIONS)
    names = entry.get("execution", list, default)
    if not names:
        raise entry.fail("execution", "lists no way to run a request")
    for name in names:
        if name not in EXECUTIONS:
            raise entry.fail("execution", f"{name!r} is not one of {', '.join(EXECUTIONS)}")
    if len(set(names)) != len(names):
        raise entry.fail("execution", f"{names!r} lists an execution twice")
    return tuple(names)


def optimizer(entry: _Entry, model_quantization: tuple[str, ...]) -> OptimizerDecl | None:
    if "optimizer" not in entry.table:
        return None
    entry.keys("optimizer", OPTIMIZER_KEYS)
    model_type = entry.choice("optimizer.model_type", OPTIMIZER_MODEL_TYPES)
    heads = entry.get("optimizer.num_heads", int)
    hidden = entry.get("optimizer.hidden_size", int)
    if heads < 1 or hidden < 1 or hidden % heads:
        raise entry.fail("optimizer.hidden_size", f"{hidden} is not a positive multiple of num_heads {heads}")
    default = [name for name in model_quantization if name in FUSABLE_CANDIDATES]
    names = entry.get("optimizer.quantization", list, default or list(FUSABLE_CANDIDATES[1:]))
    for name in names:
        if name not in FUSABLE_CANDIDATES:
            raise entry.fail(
                "optimizer.quantization", f"{name!r} is not one of {', '.join(FUSABLE_CANDIDATES)}"
            )
    return OptimizerDecl(
        model_type=model_type,
        num_heads=heads,
        hidden_size=hidden,
        factory_args=dict(entry.get("optimizer.factory_args", dict, {})),
        quantization=tuple(dict.fromkeys(names)),
    )
