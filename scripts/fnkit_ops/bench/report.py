"""Render `report.md` from the benchmark's figures."""

from __future__ import annotations

from collections.abc import Iterable

from fnkit_runtime.vocabulary import Architecture

from fnkit_ops.bench.constants import BATCH_SIZES, THREAD_COUNTS, VARIANT_SHIPPED
from fnkit_ops.bench.results import BenchRun, ColdStart, ModelBench, VariantResult
from fnkit_ops.bench.stats import LatencyStats


def format_bytes(n: int) -> str:
    """Decimal units, as `du --si` and the issue's figures count them."""
    if n <= 0:
        return "–"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def format_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.2f}" if ms < 10 else f"{ms:.1f}"


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _p50_p99(stats: LatencyStats | None) -> str:
    return "–" if stats is None else f"{format_ms(stats.p50_ms)} / {format_ms(stats.p99_ms)}"


def _interval(halfwidth: float, runs: int) -> str:
    """The median's 95 % interval as ± % of it, and the sample count."""
    return f"±{halfwidth * 100:.1f}% n={runs}"


def _p50_with_interval(stats: LatencyStats) -> str:
    interval = _interval(stats.p50_halfwidth, stats.runs)
    return f"{format_ms(stats.p50_ms)} / {format_ms(stats.p99_ms)} ({interval})"


def _cold_total(cold: ColdStart | None) -> str:
    return "–" if cold is None else f"{format_ms(cold.total_ms)} ({_interval(cold.halfwidth, cold.runs)})"


def _summary_rows(variants: list[VariantResult]) -> Iterable[list[str]]:
    for v in variants:
        cold = v.cold
        split = (
            f"{format_ms(cold.import_ms)} / {format_ms(cold.load_ms)} / {format_ms(cold.first_inference_ms)}"
            if cold
            else "–"
        )
        w11 = v.warm_at(1, 1)
        yield [
            f"**{v.variant}**<br>{v.detail}",
            format_bytes(v.artifact_bytes),
            format_bytes(v.footprint_bytes),
            _cold_total(cold),
            split,
            f"{v.peak_memory_mb:.0f}" if v.peak_memory_mb else "–",
            _p50_p99(w11.handler if w11 else None),
            f"{v.metric_name} {v.metric_value:.4f}",
        ]


def _latency_rows(variants: list[VariantResult]) -> Iterable[list[str]]:
    for v in variants:
        for threads in THREAD_COUNTS:
            for batch in BATCH_SIZES:
                w = v.warm_at(threads, batch)
                if w is None:
                    continue
                yield [
                    v.variant,
                    str(threads),
                    str(batch),
                    _p50_with_interval(w.handler),
                    _p50_with_interval(w.raw),
                    f"{w.overhead_ms:+.3f}",
                ]


ARM64_ESTIMATE_NOTE = (
    "arm64 rows are estimates, not measurements: the latency measured on this machine scaled by the "
    "price table's `relative_latency`. `fnkit build` runs arm64 artifacts under qemu emulation to check "
    "their answers only; emulated timings say nothing about Graviton's speed."
)


def _target_rows(model: ModelBench) -> Iterable[list[str]]:
    for t in model.targets:
        measured = "not measured" if t.measured is None else f"{t.measured:.3g}"
        result = "n/a" if t.passed is None else ("**pass**" if t.passed else "**FAIL**")
        yield [t.name, t.description, measured, t.target, result]


def _memory_rows(model: ModelBench) -> Iterable[list[str]]:
    """Every strategy for the shipped variant, the balanced one for the others (bench.json: all)."""
    for m in model.memory:
        if m.variant != VARIANT_SHIPPED and m.strategy != "balanced":
            continue
        yield [
            m.variant,
            m.architecture,
            m.strategy,
            str(m.memory_mb),
            str(m.threads),
            format_ms(m.expected_ms),
            format_ms(m.warm_ms),
            format_ms(m.cold_ms),
            f"${m.cost_per_million_usd:.3f}",
        ]


def _agreement_line(model: ModelBench) -> str:
    agreement = model.rie_agreement
    if agreement is None or agreement.agreed is None:
        note = agreement.note if agreement else "not checked"
        return f"Answers under AWS's Runtime Interface Emulator: {note}."
    return (
        f"Answers under AWS's Runtime Interface Emulator ({agreement.note}): {agreement.agreed} of "
        f"{agreement.events} batch events identical to fnkit's Runtime API, which took the measurements."
    )


def _import_lines(model: ModelBench) -> list[str]:
    if not model.imports:
        return []
    variants = list(dict.fromkeys(row.variant for row in model.imports))
    by = {(row.variant, row.package): row.microseconds for row in model.imports}
    packages = list(dict.fromkeys(row.package for row in model.imports))
    rows = [[name, *(f"{by.get((v, name), 0) / 1000:.1f}" for v in variants)] for name in packages]
    rows.append(["**total**", *(f"{sum(by.get((v, n), 0) for n in packages) / 1000:.1f}" for v in variants)])
    return [
        "",
        "Where the import time goes (`python -X importtime` of the runtime client and the handler module "
        "in each task root, self time per top-level package, ms, median of fresh processes; the floor "
        "creates its session at import, fnkit on the first request, which the load column above shows):",
        "",
        *_table(["package", *variants], rows),
    ]


def _snapstart_lines(model: ModelBench) -> list[str]:
    if not model.snapstart:
        return []
    rows = [
        [
            s.architecture,
            str(s.memory_mb),
            f"${s.cache_usd_per_month:.2f}",
            f"${s.restore_usd_per_million:.2f}",
            f"${s.on_demand_init_usd_per_million:.2f}",
        ]
        for s in model.snapstart
    ]
    return [
        "",
        "SnapStart's charges for the shipped variant at the balanced size (restore latency is measurable "
        "on AWS only; a restore skips the on-demand init billed in the last column):",
        "",
        *_table(
            ["arch", "MB", "cache $ / version-month", "restore $ / 1M restores", "on-demand cold $ / 1M"],
            rows,
        ),
    ]


def render_model(model: ModelBench) -> list[str]:
    lines = [f"## {model.model}", ""]
    lines += _table(
        [
            "variant",
            "artifact",
            "task root",
            "cold start ms (median, 95% interval)",
            "import / load / 1st inference ms",
            "peak MiB",
            "warm p50 / p99 ms (b1, 1 thr, handler)",
            "accuracy",
        ],
        _summary_rows(model.variants),
    )
    lines += _import_lines(model)
    lines += [
        "",
        "Warm latency in ms, p50 / p99 (the p50's 95% interval, samples), through the handler and on the "
        "raw session:",
        "",
    ]
    lines += _table(
        ["variant", "threads", "batch", "handler", "raw session", "overhead p50"],
        _latency_rows(model.variants),
    )
    lines += ["", _agreement_line(model), ""]
    lines += ["Targets (from issues 6 and 10; ratios are what count):", ""]
    lines += _table(["target", "measure", "measured", "required", "result"], _target_rows(model))
    lines += [
        "",
        f"Memory recommendation (registry today: {model.registry_memory_mb} MB, "
        f"{model.registry_architecture}); expected latency and cost per million requests include "
        "cold starts:",
        "",
    ]
    lines += _table(
        ["variant", "arch", "best for", "MB", "threads", "expected ms", "warm ms", "cold ms", "$ / 1M req"],
        _memory_rows(model),
    )
    if any(m.architecture == Architecture.ARM64 for m in model.memory):
        lines += ["", ARM64_ESTIMATE_NOTE]
    lines += _snapstart_lines(model)
    return [*lines, ""]


def render_report(run: BenchRun) -> str:
    machine = ", ".join(f"{k} {v}" for k, v in run.machine.items())
    settings = ", ".join(f"{k}={v}" for k, v in run.settings.items())
    lines = [
        "# fnkit bench report",
        "",
        f"Reproduce: `{run.command}`",
        "",
        f"Machine: {machine}.",
        "",
        f"Wall time: {run.wall_s / 60:.1f} min.",
        "",
        f"Settings: {settings}. Prices: {run.prices.get('source', '')}.",
        "",
        "Cold start = fresh process through the local Lambda Runtime API (awslambdaric) to the first "
        "response, median; a model's variants are cold-started in interleaved rounds, each until its "
        "median's 95% interval is within ±5% or its time budget is spent. "
        "Task root = bytes of everything the variant's function needs, assembled as "
        "`fnkit invoke` does. Sizes in decimal units.",
        "",
    ]
    for model in run.models:
        lines += render_model(model)
    return "\n".join(lines)
