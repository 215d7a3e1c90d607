"""`fnkit bench [MODEL ...] --out DIR`: the side-by-side benchmark. Cheap to import: heavy work in `run`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fnkit_ops.bench import constants as k
from fnkit_ops.bench.exceptions import BenchConfigError
from fnkit_ops.bench.sampling import Sampling


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fnkit_build.project import add_registry_argument

    add = parser.add_argument
    add("models", nargs="*", metavar="MODEL", help="models to measure (default: all in the registry)")
    add("--out", type=Path, required=True, help="folder for bench.json, report.md and bench.png")
    add("--runs", type=int, default=None, help="exactly N warm runs per figure (default: adaptive)")
    add(
        "--cold-runs",
        type=int,
        default=None,
        help="exactly N fresh processes per cold start (default: adaptive)",
    )
    add_registry_argument(parser, "; writes memory_mb into it with --write-registry")
    add(
        "--artifacts",
        type=Path,
        default=None,
        help="where `fnkit build` wrote the models (functions/ beside the registry)",
    )
    add("--prices", type=Path, default=None, help="price table, JSON or TOML (default: us-east-1)")
    add(
        "--cold-fraction",
        type=float,
        default=k.DEFAULT_COLD_FRACTION,
        help=f"share of requests that start cold, in the cost model (default {k.DEFAULT_COLD_FRACTION})",
    )
    add("--skip-baseline", action="store_true", help="leave out the torch baseline (no torch install)")
    add("--write-registry", action="store_true", help="write the balanced memory size into the registry")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--quick", action="store_true", help=f"few runs ({k.QUICK_COLD_RUNS} cold, {k.QUICK_WARM_RUNS} warm)"
    )
    pace.add_argument(
        "--full",
        action="store_true",
        help=f"the exhaustive run: {k.DEFAULT_COLD_RUNS} cold starts and {k.DEFAULT_WARM_RUNS} warm runs "
        "per figure, whatever their interval (default: each figure until its median's 95%% interval "
        "is within ±5%% or its time budget is spent)",
    )
    add(
        "--shapes-only",
        action="store_true",
        help="only the text models' real-shape section (batch 1 short, 8 mixed, 8 x max_length): shapes.md",
    )


def _positive(value: int | None, option: str) -> int | None:
    if value is not None and value < 1:
        raise BenchConfigError(f"{option} must be at least 1, got {value}")
    return value


def sampling_of(args: argparse.Namespace) -> tuple[Sampling, Sampling]:
    """(cold, warm) sampling: explicit counts win, then --quick / --full, else adaptive."""
    cold_runs = _positive(args.cold_runs, "--cold-runs")
    warm_runs = _positive(args.runs, "--runs")
    if args.quick:
        cold, warm = Sampling.fixed(k.QUICK_COLD_RUNS), Sampling.fixed(k.QUICK_WARM_RUNS)
    elif args.full:
        cold, warm = Sampling.fixed(k.DEFAULT_COLD_RUNS), Sampling.fixed(k.DEFAULT_WARM_RUNS)
    else:
        cold, warm = k.ADAPTIVE_COLD, k.ADAPTIVE_WARM
    return (
        Sampling.fixed(cold_runs) if cold_runs else cold,
        Sampling.fixed(warm_runs) if warm_runs else warm,
    )


def _command() -> str:
    """The command line as typed, for the report's "reproduce" line."""
    argv = sys.argv[1:]
    return shlex.join(["fnkit", *argv]) if argv[:1] == ["bench"] else "fnkit bench"


def run(args: argparse.Namespace) -> int:
    from fnkit_build.progress import Progress
    from fnkit_build.project import artifacts_dir
    from fnkit_build.registry import load_registry

    from fnkit_ops.bench.pipeline import run_bench
    from fnkit_ops.bench.plan import BenchOptions
    from fnkit_ops.bench.prices import load_prices

    if not 0 <= args.cold_fraction <= 1:
        raise BenchConfigError(f"--cold-fraction must be within [0, 1], got {args.cold_fraction}")
    quick = bool(args.quick)
    cold_sampling, warm_sampling = sampling_of(args)
    registry = args.registry
    specs = load_registry(registry).select(args.models)
    models = tuple(spec.name for spec in specs)
    if args.shapes_only:
        from fnkit_ops.bench.shapes import run_shapes

        args.out.mkdir(parents=True, exist_ok=True)
        if not run_shapes(specs, artifacts_dir(registry, args.artifacts), args.out, Progress("bench")):
            raise BenchConfigError("--shapes-only: none of the selected models is a text model")
        return 0
    options = BenchOptions(
        models=models,
        out=args.out,
        registry=registry,
        artifacts=artifacts_dir(registry, args.artifacts),
        prices=load_prices(args.prices),
        cold_sampling=cold_sampling,
        warm_sampling=warm_sampling,
        warmup=k.WARMUP_CALLS // 2 if quick else k.WARMUP_CALLS,
        skip_baseline=args.skip_baseline,
        write_registry=args.write_registry,
        cold_fraction=args.cold_fraction,
        command=shlex.join(["fnkit", "bench", *sys.argv[2:]])
        if sys.argv[1:2] == ["bench"]
        else "fnkit bench",
    )
    run_bench(options, progress=Progress("bench"))
    return 0
