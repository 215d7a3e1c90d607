"""report.md, bench.json and the chart, rendered from synthetic figures."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from fnkit_ops.bench.constants import VARIANT_SHIPPED
from fnkit_ops.bench.memory import memory_choices
from fnkit_ops.bench.pipeline import write_outputs
from fnkit_ops.bench.prices import PriceTable
from fnkit_ops.bench.report import ARM64_ESTIMATE_NOTE, format_bytes, format_ms, render_report
from fnkit_ops.bench.results import BenchRun, ModelBench, VariantResult
from fnkit_ops.bench.targets import check_targets


def make_run(variants: list[VariantResult], prices: PriceTable, model: str = "digits") -> BenchRun:
    bench = ModelBench(
        model=model,
        registry_memory_mb=1024,
        registry_architecture="x86_64",
        variants=variants,
        targets=check_targets(model, variants),
        memory=memory_choices(variants, prices, 0.01),
    )
    return BenchRun(
        schema_version=1,
        created_at="2026-01-01T00:00:00+00:00",
        command="fnkit bench digits --out x",
        machine={"cpu": "test cpu", "cores": 2},
        settings={"cold_runs": 3},
        prices=prices.to_dict(),
        models=[bench],
    )


def test_report_has_the_command_machine_and_a_row_per_variant(
    variants: list[VariantResult], prices: PriceTable
) -> None:
    # GIVEN a run with three measured variants
    run = make_run(variants, prices)
    # WHEN rendered
    text = render_report(run)
    # THEN it names the command and machine and has one summary row per variant with its figures
    assert "`fnkit bench digits --out x`" in text
    assert "test cpu" in text
    for v in variants:
        row = next(line for line in text.splitlines() if line.startswith(f"| **{v.variant}**"))
        assert format_bytes(v.footprint_bytes) in row
        assert v.cold is not None and format_ms(v.cold.total_ms) in row


def test_report_shows_target_results(variants: list[VariantResult], prices: PriceTable) -> None:
    # GIVEN the fixture's ratios: cold 2000/200 = 10x (pass), footprint 120/900 = 0.133 (pass),
    # shipped / floor cold 200/190 = 1.05 (pass) and the digits overhead 2.05 - 2.0 = 0.05 ms (pass)
    text = render_report(make_run(variants, prices))
    lines = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "**pass**" in lines["cold-start"] and "10" in lines["cold-start"]
    assert "**pass**" in lines["footprint"]
    assert "**pass**" in lines["cold-vs-floor"] and "1.05" in lines["cold-vs-floor"]
    assert "**pass**" in lines["handler-overhead"]


def test_cold_start_over_the_floor_and_overhead_over_the_target_fail(
    variants: list[VariantResult], prices: PriceTable
) -> None:
    # GIVEN a floor cold start of 150 ms (200 / 150 = 1.33x) and a shipped handler 0.3 ms over its session
    floor = next(v for v in variants if v.variant == "onnx-floor")
    slow = [v for v in variants if v.variant != "onnx-floor"]
    assert floor.cold is not None
    slower_floor = replace(floor, cold=replace(floor.cold, total_ms=150.0))
    shipped = next(v for v in slow if v.variant == VARIANT_SHIPPED)
    heavy = replace(
        shipped,
        warm=[replace(w, handler=replace(w.handler, p50_ms=w.raw.p50_ms + 0.3)) for w in shipped.warm],
    )
    others = [v for v in slow if v.variant != VARIANT_SHIPPED]
    # WHEN the targets are checked, THEN both fail with the measured figures
    checks = {c.name: c for c in check_targets("digits", [*others, heavy, slower_floor])}
    assert checks["cold-vs-floor"].passed is False
    assert checks["cold-vs-floor"].measured == 200.0 / 150.0
    assert checks["handler-overhead"].passed is False


def test_report_gives_each_figure_its_sample_count_and_interval(
    variants: list[VariantResult], prices: PriceTable
) -> None:
    # GIVEN a shipped cold start of 200 ms with the interval [190, 220] over 12 runs
    shipped = next(v for v in variants if v.variant == VARIANT_SHIPPED)
    assert shipped.cold is not None
    cold = replace(shipped.cold, runs=12, ci_low_ms=190.0, ci_high_ms=220.0)
    others = [v for v in variants if v.variant != VARIANT_SHIPPED]
    text = render_report(make_run([*others, replace(shipped, cold=cold)], prices))
    # THEN its row shows the interval as ± % of the median and the count; warm rows show theirs
    row = next(line for line in text.splitlines() if line.startswith(f"| **{VARIANT_SHIPPED}**"))
    assert "200 (±7.5% n=12)" in row
    assert any(
        line.startswith(f"| {VARIANT_SHIPPED} | 1 | 1 |") and "n=10" in line for line in text.splitlines()
    )


def test_failed_and_unmeasured_targets_are_shown(variants: list[VariantResult], prices: PriceTable) -> None:
    # GIVEN minilm without the torch baseline: latency-vs-torch cannot be measured;
    # fp32 / shipped = 7.5 / 2.0 = 3.75 passes
    shipped_only = [v for v in variants if v.variant != "torch-eager-fp32"]
    text = render_report(make_run(shipped_only, prices, model="minilm"))
    row = next(line for line in text.splitlines() if line.startswith("| latency-vs-torch"))
    assert "not measured" in row and "n/a" in row
    # AND a shipped variant slower than fp32 fails
    slow = [variants[1], variants[0]]
    slow_shipped = replace(variants[1], variant=VARIANT_SHIPPED)
    checks = check_targets("minilm", [*slow, slow_shipped])
    assert next(c for c in checks if c.name == "latency-vs-fp32").passed is False


def test_memory_recommendations_are_in_the_report(variants: list[VariantResult], prices: PriceTable) -> None:
    run = make_run(variants, prices)
    text = render_report(run)
    for choice in run.models[0].memory:
        if choice.variant == VARIANT_SHIPPED:
            assert (
                f"| {choice.variant} | {choice.architecture} | {choice.strategy} | {choice.memory_mb} |"
                in text
            )
    # AND the arm64 rows say they are estimates (never measured here, emulated timings mean nothing)
    assert any(choice.architecture == "arm64" for choice in run.models[0].memory)
    assert ARM64_ESTIMATE_NOTE in text


def test_write_outputs_writes_json_markdown_and_a_png(
    variants: list[VariantResult], prices: PriceTable, tmp_path: Path
) -> None:
    # WHEN the outputs are written
    paths = write_outputs(make_run(variants, prices), tmp_path)
    # THEN bench.json round-trips the figures, report.md exists and the chart is a PNG
    data = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))
    shipped = next(v for v in data["models"][0]["variants"] if v["variant"] == VARIANT_SHIPPED)
    assert shipped["cold"]["total_ms"] == 200.0
    assert (
        shipped["warm"][0]["overhead_ms"]
        == shipped["warm"][0]["handler"]["p50_ms"] - shipped["warm"][0]["raw"]["p50_ms"]
    )
    assert (tmp_path / "report.md").read_text(encoding="utf-8").startswith("# fnkit bench report")
    png = (tmp_path / "bench.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert len(paths) == 3
