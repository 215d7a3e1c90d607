"""How a model is served and which fused graphs the build tries: the registry's knobs, validated.

- `execution`: the ways the function may run a request's items, in order of preference
  (`fnkit_runtime.batching.Execution`); the build ships, for the chosen candidate, the first one
  that passes the batch-invariance gate. Default: text models `["length_buckets", "per_item"]`,
  others `["batch", "per_item"]`.
- `optimizer`: a transformer encoder the build may also export for onnxruntime's transformer
  optimizer (`onnxruntime.transformers.optimizer.optimize_model`), fuse, and quantize; the fused
  candidates are gated like any other. `factory_args` go to the factory for that export only (for
  Hugging Face models `attn_implementation = "eager"`: the optimizer's patterns do not match SDPA).
  `fusions` turns single fusions of the optimizer on or off by their `FusionOptions` names without
  `enable_` (`{ skip_layer_norm = false }` keeps `Add` + `LayerNormalization`, which onnxruntime
  1.32's CPU kernels run faster than its `SkipLayerNormalization`: docs/performance.md).
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

OPTIMIZER_KEYS = ("model_type", "num_heads", "hidden_size", "factory_args", "quantization", "fusions")
FUSIONS: dict[str, tuple[str, ...]] = {
    "attention": ("AttentionFusion",),
    "bias_gelu": ("BiasGeluFusion",),
    "bias_skip_layer_norm": ("SkipLayerNormFusion",),
    "embed_layer_norm": ("EmbedLayerNormFusion",),
    "gelu": ("GeluFusion",),
    "gelu_approximation": (),
    "layer_norm": ("LayerNormFusion",),
    "skip_layer_norm": ("SkipLayerNormFusion",),
}
"""Fusions of onnxruntime's transformer optimizer a registry may turn on or off
(`onnxruntime.transformers.fusion_options.FusionOptions.enable_<name>`), each with the graph
transformers of onnxruntime's own session optimizer that would make the same fusion again: the
offline optimization disables those when the fusion is off, or the shipped file would have it anyway."""
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
    fusions: Mapping[str, bool] = field(default_factory=dict)
    """Fusion name (one of FUSIONS) -> on/off; the optimizer's defaults for the rest."""

    @property
    def session_optimizers_off(self) -> tuple[str, ...]:
        """onnxruntime graph transformers to disable so that the fusions turned off stay off."""
        off = (name for name, enabled in self.fusions.items() if not enabled)
        return tuple(dict.fromkeys(t for name in off for t in FUSIONS[name]))

    @property
    def candidates(self) -> tuple[str, ...]:
        """The fused candidates' names, the fused fp32 graph first."""
        return (FUSED_FP32, *(FUSED_PREFIX + name for name in self.quantization))


def session_optimizers_off(optimizer: OptimizerDecl | None, candidate: str) -> tuple[str, ...]:
    """The onnxruntime graph transformers every session of `candidate` runs without: for a fused
    candidate, those that would redo the fusions its registry turned off; none otherwise."""
    if optimizer is None or not candidate.startswith(FUSED_PREFIX):
        return ()
    return optimizer.session_optimizers_off


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
        fusions=_fusions(entry),
    )


def _fusions(entry: _Entry) -> dict[str, bool]:
    table = dict(entry.get("optimizer.fusions", dict, {}))
    for name, value in table.items():
        if name not in FUSIONS:
            raise entry.fail("optimizer.fusions", f"{name!r} is not one of {', '.join(FUSIONS)}")
        if not isinstance(value, bool):
            raise entry.fail(f"optimizer.fusions.{name}", f"{value!r} is not true or false")
    return table
