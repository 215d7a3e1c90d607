"""`fnkit build`: arguments and entry point. Cheap to import: torch and onnxruntime load in `run`."""

from __future__ import annotations

import argparse
from pathlib import Path

from fnkit_build.project import FUNCTIONS_DIR, add_registry_argument, artifacts_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "For each model in the registry: export to ONNX (dynamic axes asserted), check parity with "
        "torch, quantize the candidates, gate each on the model's metric and latency, optimize the "
        "chosen one offline and write it with manifest.json to OUT/<model>/model/. Every gate is fatal."
    )
    parser.add_argument(
        "models", nargs="*", metavar="MODEL", help="models to build (default: all in the registry)"
    )
    add_registry_argument(parser, "; factories import from its folder")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output root; writes OUT/<model>/model/ (default: {FUNCTIONS_DIR}/ beside the registry)",
    )
    parser.add_argument(
        "--skip-quantize", action="store_true", help="gate and ship fp32 only (no quantization candidates)"
    )
    parser.add_argument(
        "--no-optimize",
        action="store_true",
        help="ship the gated file as is, without offline graph optimization",
    )
    parser.add_argument(
        "--no-repair",
        action="store_true",
        help="do not repair int8 candidates that fail the gate by keeping nodes in float "
        "(registry: repair.enabled)",
    )
    parser.add_argument(
        "--no-verify-cpus",
        action="store_true",
        help="skip running the chosen artifact on the target CPU classes under emulation "
        "(the manifest records a warning and golden tolerances fall back to a fixed bound)",
    )
    parser.add_argument("--list", action="store_true", help="list the registry's models and exit")


def run(args: argparse.Namespace) -> int:
    from fnkit_build.pipeline import BuildOptions, build_models
    from fnkit_build.registry import load_registry

    registry = load_registry(args.registry)
    if args.list:
        for spec in registry.select(args.models):
            print(f"{spec.name}\t{spec.task}\t{spec.factory}\t{', '.join(spec.quantization) or 'fp32 only'}")
        return 0
    options = BuildOptions(
        out=artifacts_dir(args.registry, args.out),
        quantize=not args.skip_quantize,
        optimize=not args.no_optimize,
        repair=not args.no_repair,
        verify_cpus=not args.no_verify_cpus,
    )
    build_models(registry, args.models, options)
    return 0
