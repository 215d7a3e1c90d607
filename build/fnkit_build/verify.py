"""Verification of the chosen artifact on every target CPU class, and the golden tolerances it yields.

After the gate chooses, the build runs the artifact as the function will serve it (same file, same
graph level, one thread, the items of each request run as the manifest's `execution` says, e.g. one
call per item for dynamic int8) on each class of `function.cpus` (`fnkit_build.emulation`): the whole gate
(metric, nearest neighbours, finiteness) on the evaluation set against the torch reference, and the
golden inputs. A class fails when the gate fails there (or a golden output is not finite); the
candidate is then rejected like any failing candidate, with the class and both numbers named.

The golden outputs are the build host's when the host is itself a class of the function's
architecture, else the first target class's (an arm64 function built on x86). Their tolerances
come from the spread between those outputs and each other verified class's, times `MARGIN`, never
below the model's parity tolerance; embeddings also get a cosine floor. When verification is skipped
(`--no-verify-cpus`) a fixed cross-CPU bound is used instead and the manifest carries a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fnkit_runtime.batching import Execution, run_items

from fnkit_build.cpus import CPU_CLASSES, CpuClass, host_class
from fnkit_build.emulation import check_available, run_on
from fnkit_build.gate import cosines, score
from fnkit_build.inference import open_served_session
from fnkit_build.invariance import item_rows
from fnkit_build.registry import ModelSpec, Tolerance
from fnkit_build.types import Array, Feeds

ItemRows = tuple[Sequence[Feeds], Sequence[int]]
"""A request as the function runs it: single-item rows and their token lengths (0 for tensors)."""

CROSS_CPU_ATOL = 2e-3
CROSS_CPU_RTOL = 1e-2
"""Golden tolerance of an int8 artifact when verification is skipped (fp32: the parity tolerance)."""
MARGIN = 4.0
"""Golden tolerances are the spread measured across the verified classes times this."""
MIN_COSINE_SLACK = 1e-5
"""The cosine floor is never closer to 1 than this (float32 rounding of a normalised row)."""
SKIPPED_WARNING = "not verified on the target CPU classes (fnkit build --no-verify-cpus)"


@dataclass(frozen=True)
class ClassRun:
    """One target CPU class as the verification saw it."""

    cpu: str
    how: str
    metric: float
    host_metric: float
    reasons: tuple[str, ...]
    golden_max_abs: float
    """Largest |class - host| over every golden output."""
    golden_cosine_min: float | None
    """Embeddings: smallest per-row cosine between the class's and the host's golden outputs."""
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class Verification:
    targets: tuple[str, ...]
    runs: tuple[ClassRun, ...] = ()
    """One per target class, plus the build host's own class when it is of the function's architecture."""
    skipped: bool = False
    seconds: float = 0.0
    spreads: tuple[tuple[float, float | None], ...] = field(default_factory=tuple)
    """Per golden sample: (max abs spread, min cosine) across the verified classes."""
    golden_outputs: tuple[dict[str, Array], ...] | None = None
    """The golden outputs the manifest records: the build host's when the host is a class of the
    function's architecture, else the first target class's (an arm64 function built on x86)."""

    @property
    def passed(self) -> bool:
        return all(run.passed for run in self.runs)

    @property
    def failures(self) -> list[str]:
        return [f"on {run.cpu} ({run.how}): {'; '.join(run.reasons)}" for run in self.runs if not run.passed]

    @property
    def verified(self) -> dict[str, str]:
        """Class -> how, every class the artifact demonstrably ran on (the host's own class included)."""
        if self.skipped:
            return {}
        return dict(sorted((run.cpu, run.how) for run in self.runs))

    @property
    def warning(self) -> str:
        return SKIPPED_WARNING if self.skipped else ""


@dataclass(frozen=True)
class VerifyInputs:
    """What a class run needs: the evaluation set and its torch reference, and the golden requests."""

    feeds: Feeds
    reference: dict[str, Array]
    labels: Array | None
    golden: Sequence[ItemRows]
    cache: Path
    pad_values: Mapping[str, int] | None = None


@dataclass(frozen=True)
class ServedCalls:
    """Requests (the evaluation set as one, the golden ones) as the function serves them: the session
    calls its execution makes, in order, and how their outputs go back together."""

    requests: list[ItemRows]
    execution: Execution
    pad_values: Mapping[str, int] | None

    def outputs(self, run: Callable[[Feeds], dict[str, Array]]) -> list[dict[str, Array]]:
        return [
            run_items(run, rows, lengths, self.execution, self.pad_values) for rows, lengths in self.requests
        ]

    def calls(self, run: Callable[[Feeds], dict[str, Array]]) -> tuple[list[dict[str, Array]], list[Feeds]]:
        """Outputs through `run`, and every call's feeds (to replay on another class)."""
        recorded: list[Feeds] = []

        def recording(feeds: Feeds) -> dict[str, Array]:
            recorded.append(feeds)
            return run(feeds)

        return self.outputs(recording), recorded

    def replay(self, results: Sequence[dict[str, Array]]) -> list[dict[str, Array]]:
        """The requests' outputs from another run of the same calls (same order)."""
        answers: Iterator[dict[str, Array]] = iter(results)
        return self.outputs(lambda _feeds: next(answers))


@dataclass(frozen=True)
class HostRun:
    """The build host's run of the served artifact, which every class run replays and is compared with."""

    served: ServedCalls
    calls: Sequence[Feeds]
    """Every session call's feeds, in order (each class runs exactly these)."""
    golden: Sequence[dict[str, Array]]
    metric: float


def check_targets(spec: ModelSpec, cache: Path) -> None:
    """Fail before any work when a target class cannot be run here (building missing roots)."""
    for name in spec.function.cpus:
        check_available(CPU_CLASSES[name], cache)


def skipped(spec: ModelSpec) -> Verification:
    return Verification(targets=spec.function.cpus, skipped=True)


def verify(
    spec: ModelSpec, artifact: Path, *, optimized: bool, execution: str, inputs: VerifyInputs
) -> Verification:
    """Run `artifact` on every target class as the function serves it (`execution`); the verdict per
    class and the golden spreads."""
    started = time.perf_counter()
    session = open_served_session(artifact, optimized=optimized)
    names = [t.name for t in spec.outputs]

    def on_host(feeds: Feeds) -> dict[str, Array]:
        return dict(zip(names, session.run(names, feeds), strict=True))

    requests = [item_rows(spec, inputs.feeds), *inputs.golden]
    served = ServedCalls(requests, Execution(execution), inputs.pad_values)
    host_outputs, calls = served.calls(on_host)
    host_metric, _, host_reasons, _ = score(spec.gate, host_outputs[0], inputs.reference, inputs.labels)
    on_build_host = HostRun(served, calls, host_outputs[1:], host_metric)
    runs, class_goldens = _host_run(spec, host_metric, host_reasons), []
    for name in spec.function.cpus:
        cpu = CPU_CLASSES[name]
        run, golden = _class_run(spec, cpu, artifact, optimized=optimized, inputs=inputs, host=on_build_host)
        runs.append(run)
        class_goldens.append(golden)
    host = host_class()
    if host is not None and host.architecture == spec.function.architecture:
        reference = on_build_host.golden
    else:
        reference, class_goldens = class_goldens[0], class_goldens[1:]
    return Verification(
        targets=spec.function.cpus,
        runs=tuple(runs),
        seconds=time.perf_counter() - started,
        spreads=tuple(zip(*_spread(spec, class_goldens, reference), strict=True)),
        golden_outputs=tuple(reference),
    )


def _host_run(spec: ModelSpec, metric: float, reasons: Sequence[str]) -> list[ClassRun]:
    """The build host's own run of the served artifact, as a run on its class when that is one the
    function's architecture has and not already a target (which then runs like the others)."""
    host = host_class()
    if host is None or host.architecture != spec.function.architecture or host.name in spec.function.cpus:
        return []
    problems = tuple(f"{r} (the build host's own run)" for r in reasons)
    return [ClassRun(host.name, "build host", metric, metric, problems, 0.0, None, 0.0)]


def _class_run(
    spec: ModelSpec, cpu: CpuClass, artifact: Path, *, optimized: bool, inputs: VerifyInputs, host: HostRun
) -> tuple[ClassRun, list[dict[str, Array]]]:
    """The gate and the goldens on one class, in one emulated process: the same session calls the
    function's execution made on the build host, put back together the same way."""
    from fnkit_runtime.session import graph_optimization_level

    began = time.perf_counter()
    outputs = run_on(
        cpu,
        artifact,
        list(host.calls),
        output_names=[t.name for t in spec.outputs],
        graph_level=int(graph_optimization_level(optimized)),
        cache=inputs.cache,
    )
    replayed = host.served.replay(outputs)
    evaluated, golden = replayed[0], replayed[1:]
    metric, _, reasons, _ = score(spec.gate, evaluated, inputs.reference, inputs.labels)
    problems = [f"{r} (build host {spec.gate.metric} {host.metric:.4g})" for r in reasons]
    problems += _golden_problems(spec, golden)
    abs_spread, cos_spread = _spread(spec, [golden], host.golden)
    run = ClassRun(
        cpu=cpu.name,
        how=cpu.how,
        metric=metric,
        host_metric=host.metric,
        reasons=tuple(problems),
        golden_max_abs=max(abs_spread, default=0.0),
        golden_cosine_min=min((c for c in cos_spread if c is not None), default=None),
        seconds=time.perf_counter() - began,
    )
    return run, golden


def _cross_cpu_bound(spec: ModelSpec, quantized: bool) -> Tolerance:
    if quantized:
        return Tolerance(max(spec.tolerance.atol, CROSS_CPU_ATOL), max(spec.tolerance.rtol, CROSS_CPU_RTOL))
    return spec.tolerance


def _golden_problems(spec: ModelSpec, golden: Sequence[dict[str, Array]]) -> list[str]:
    return [
        f"golden sample {index} output {tensor.name!r}: non-finite values"
        for index, outputs in enumerate(golden)
        for tensor in spec.outputs
        if not np.all(np.isfinite(outputs[tensor.name]))
    ]


def _spread(
    spec: ModelSpec, classes: Sequence[Sequence[dict[str, Array]]], host: Sequence[dict[str, Array]]
) -> tuple[list[float], list[float | None]]:
    """Per golden sample: max |class - host| over classes and outputs; min row cosine (embeddings)."""
    abs_spread: list[float] = []
    cos_spread: list[float | None] = []
    first = spec.outputs[0].name
    for index, want in enumerate(host):
        diffs = [
            float(np.max(np.abs(got[index][t.name].astype(np.float64) - want[t.name]), initial=0.0))
            for got in classes
            for t in spec.outputs
        ]
        abs_spread.append(max(diffs, default=0.0))
        if spec.task == "embedding":
            cos = [float(np.min(cosines(got[index][first], want[first]))) for got in classes]
            cos_spread.append(min(cos, default=1.0))
        else:
            cos_spread.append(None)
    return abs_spread, cos_spread


@dataclass(frozen=True)
class GoldenTolerance:
    atol: float
    rtol: float
    cosine_min: float | None


def golden_tolerances(
    spec: ModelSpec, verification: Verification, *, quantized: bool, samples: int
) -> list[GoldenTolerance]:
    """Per golden sample: tolerances covering the verified classes' spread with a margin."""
    if verification.skipped:
        bound = _cross_cpu_bound(spec, quantized)
        return [GoldenTolerance(bound.atol, bound.rtol, None)] * samples
    result = []
    for abs_spread, cos_spread in verification.spreads:
        atol = max(spec.tolerance.atol, _two_digits(MARGIN * abs_spread))
        cosine_min = None
        if cos_spread is not None:
            cosine_min = round(1.0 - max(MIN_COSINE_SLACK, _two_digits(MARGIN * (1.0 - cos_spread))), 12)
        result.append(GoldenTolerance(atol, spec.tolerance.rtol, cosine_min))
    return result


def _two_digits(value: float) -> float:
    """Rounded up to two significant digits, so the manifest shows readable numbers."""
    if value <= 0:
        return 0.0
    exponent = int(np.floor(np.log10(value))) - 1
    return float(np.ceil(value / 10.0**exponent) * 10.0**exponent)
