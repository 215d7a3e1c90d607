"""Turn a registry model into the variants' task roots (build side: imports torch)."""

from __future__ import annotations

from pathlib import Path

from fnkit_build.progress import Progress
from fnkit_runtime.manifest import Manifest
from fnkit_runtime.vocabulary import ARTIFACT_FILE

from fnkit_ops.bench import constants as k
from fnkit_ops.bench import floor
from fnkit_ops.bench.baseline.export import HANDLER, HANDLER_FILE, HANDLER_MODULE
from fnkit_ops.bench.plan import BenchOptions, VariantPlan
from fnkit_ops.bench.variants import AccuracyEvaluator, export_baseline, export_fp32
from fnkit_ops.invoke.function import assemble_function, function_config, locate_built_model
from fnkit_ops.invoke.process import FunctionConfig
from fnkit_ops.invoke.taskroot import assemble_task_root, function_copies


def prepare_variants(
    name: str, options: BenchOptions, workdir: Path, progress: Progress
) -> tuple[list[VariantPlan], Manifest]:
    """int8 (as built), the bare floor on the same artifact, fp32 (exported here) and the torch
    baseline, each in its own task root."""
    from fnkit_build.factory import load_bundle
    from fnkit_build.registry import load_registry

    spec = load_registry(options.registry).select([name])[0]
    built = locate_built_model(name, options.artifacts)
    progress(f"  calling the factory {spec.factory} (torch module, evaluation set)")
    bundle = load_bundle(spec)
    evaluator = AccuracyEvaluator(spec, bundle)
    plans = []

    progress(f"  onnx-shipped: the built artifact ({built.manifest.variant}); assembling its task root")
    int8 = built.model_dir / built.manifest.artifact.file
    acc = evaluator.onnx(int8)
    plans.append(
        VariantPlan(
            k.VARIANT_SHIPPED,
            f"{built.manifest.variant}, onnxruntime",
            assemble_function(built, workdir / "root-int8"),
            function_config(built),
            "onnx",
            False,
            built.manifest.artifact.bytes,
            acc.name,
            acc.value,
        )
    )

    progress("  onnx-floor: the bare handler on the same artifact and dependency layer")
    shipped_config = function_config(built)
    floor_root = assemble_task_root(
        workdir / "root-floor",
        built.requirements,
        {f"{floor.HANDLER_MODULE}.py": floor.HANDLER_FILE, "model": built.model_dir},
    )
    plans.append(
        VariantPlan(
            k.VARIANT_FLOOR,
            "bare onnxruntime handler, session at import",
            floor_root,
            FunctionConfig(
                function_name=f"{shipped_config.function_name}-floor",
                memory_mb=shipped_config.memory_mb,
                model=name,
                handler=floor.HANDLER,
                env=shipped_config.env,
            ),
            "floor",
            True,
            built.manifest.artifact.bytes,
            acc.name,
            acc.value,
        )
    )

    progress("  onnx-fp32: exporting with the build's exporter; assembling its task root")
    fp32_dir = export_fp32(spec, bundle, built.manifest, built.model_dir, workdir / "model-fp32")
    fp32_root = assemble_task_root(workdir / "root-fp32", built.requirements, function_copies(fp32_dir))
    acc = evaluator.onnx(fp32_dir / ARTIFACT_FILE)
    plans.append(
        VariantPlan(
            k.VARIANT_ONNX_FP32,
            "fp32, onnxruntime",
            fp32_root,
            function_config(built),
            "onnx",
            False,
            (fp32_dir / ARTIFACT_FILE).stat().st_size,
            acc.name,
            acc.value,
        )
    )

    if options.skip_baseline:
        return plans, built.manifest
    progress("  torch-eager-fp32: exporting the baseline; installing torch into its task root (cached)")
    baseline = export_baseline(spec, bundle, workdir / "model-torch")
    requirements = [*k.BASELINE_REQUIREMENTS]
    if spec.text is not None:
        requirements += k.BASELINE_TEXT_REQUIREMENTS
    root = assemble_task_root(
        workdir / "root-torch",
        requirements,
        {f"{HANDLER_MODULE}.py": HANDLER_FILE, "model": baseline.model_dir},
        trim=False,
    )
    base_config = function_config(built)
    config = FunctionConfig(
        function_name=f"{base_config.function_name}-torch",
        memory_mb=base_config.memory_mb,
        model=name,
        handler=HANDLER,
        env=base_config.env,
    )
    acc = evaluator.torch()
    detail = (
        "torch + transformers, from_pretrained" if baseline.kind == "transformers" else "torch, state dict"
    )
    plans.append(
        VariantPlan(
            k.VARIANT_TORCH, detail, root, config, "torch", True, baseline.artifact_bytes, acc.name, acc.value
        )
    )
    return plans, built.manifest
