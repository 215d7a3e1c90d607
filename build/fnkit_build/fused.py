"""Fused-graph candidates: a graph onnxruntime's transformer optimizer fuses, then quantized.

For a registry entry with an `optimizer` table the build also:
1. calls the factory again with `optimizer.factory_args` (for Hugging Face encoders
   `attn_implementation="eager"`), and exports that module with the TorchScript exporter
   (`dynamo=False`): the optimizer's fusion patterns match its graph, not the dynamo exporter's,
   and SDPA attention leaves nothing to fuse;
2. runs `onnxruntime.transformers.optimizer.optimize_model(model_type, num_heads, hidden_size)`
   (Attention, SkipLayerNormalization, BiasGelu, EmbedLayerNormalization for BERT) with no
   onnxruntime graph passes baked in (`opt_level=0`), so the file is not specific to the build host;
3. checks the fused fp32 graph against torch with the model's parity tolerance (fatal);
4. quantizes it dynamically (`DefaultTensorType` FLOAT: the fused graph's contrib ops carry no
   type information the quantizer can read).
Candidates are named `fused-fp32`, `fused-int8-dynamic-per-channel`...; the gate treats them like
any other, and the manifest records the shipped graph's fused operators.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnkit_build.cpus import QuantPreset
from fnkit_build.exceptions import ExportError
from fnkit_build.export import check_onnx, export_onnx
from fnkit_build.quantize import dynamic_int8, quantizer_run
from fnkit_build.registry import ModelSpec
from fnkit_build.serving import OptimizerDecl, fused_base
from fnkit_build.types import Feeds


@dataclass(frozen=True)
class FusedGraph:
    path: Path
    operators: dict[str, int]
    """Fused operator -> count, as the optimizer reports it (zero counts left out)."""


def export_torchscript(module: Any, example_inputs: Feeds, spec: ModelSpec, path: Path) -> None:
    """The TorchScript exporter's single-file graph, checked like the main export."""
    export_onnx(module, example_inputs, spec, path, dynamo=False)


def fuse(source: Path, target: Path, decl: OptimizerDecl, spec: ModelSpec) -> FusedGraph:
    """Run onnxruntime's transformer optimizer; ExportError if it fuses nothing."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    options = FusionOptions(decl.model_type)
    for name, enabled in decl.fusions.items():
        setattr(options, f"enable_{name}", enabled)
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        model = optimizer.optimize_model(
            str(source),
            model_type=decl.model_type,
            num_heads=decl.num_heads,
            hidden_size=decl.hidden_size,
            optimization_options=options,
            opt_level=0,
        )
        stats = model.get_fused_operator_statistics()
        model.save_model_to_file(str(target))
    operators = {str(name): int(count) for name, count in sorted(stats.items()) if count}
    if not operators:
        raise ExportError(
            f"model {spec.name!r}: onnxruntime's transformer optimizer (model_type "
            f"{decl.model_type!r}) fused no operator; check optimizer.num_heads/hidden_size and "
            "optimizer.factory_args (Hugging Face models need attn_implementation = 'eager')"
        )
    check_onnx(target, spec.name)
    return FusedGraph(target, operators)


def quantize_fused(
    candidate: str, source: Path, target: Path, *, preset: QuantPreset, spec: ModelSpec
) -> Path:
    """Dynamic int8 of the fused graph (`fused-int8-dynamic[-per-channel]`)."""
    import onnx

    base = fused_base(candidate)
    with quantizer_run(spec, candidate):
        dynamic_int8(
            source,
            target,
            per_channel=base.per_channel,
            preset=preset,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return target
