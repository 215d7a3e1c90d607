"""Render `report.md` from the benchmark's figures."""

from __future__ import annotations

from collections.abc import Iterable

from fnkit_ops.bench.constants import BATCH_SIZES, THREAD_COUNTS, VARIANT_SHIPPED
from fnkit_ops.bench.results import BenchRun, ModelBench, VariantResult
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
            format_ms(cold.total_ms) if cold else "–",
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
                    _p50_p99(w.handler),
                    _p50_p99(w.raw),
                    f"{w.overhead_ms:+.3f}",
                ]


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


def render_model(model: ModelBench) -> list[str]:
    lines = [f"## {model.model}", ""]
    lines += _table(
        [
            "variant",
            "artifact",
            "task root",
            "cold start ms",
            "import / load / 1st inference ms",
            "peak MiB",
            "warm p50 / p99 ms (b1, 1 thr, handler)",
            "accuracy",
        ],
        _summary_rows(model.variants),
    )
    lines += ["", "Warm latency in ms, p50 / p99, through the handler and on the raw session:", ""]
    lines += _table(
        ["variant", "threads", "batch", "handler", "raw session", "overhead p50"],
        _latency_rows(model.variants),
    )
    lines += ["", _agreement_line(model), ""]
    lines += ["Targets (from issue 6; ratios are what count):", ""]
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
        f"Settings: {settings}. Prices: {run.prices.get('source', '')}.",
        "",
        "Cold start = fresh process through the local Lambda Runtime API (awslambdaric) to the first "
        "response, median. Task root = bytes of everything the variant's function needs, assembled as "
        "`fnkit invoke` does. Sizes in decimal units.",
        "",
    ]
    for model in run.models:
        lines += render_model(model)
    return "\n".join(lines)
