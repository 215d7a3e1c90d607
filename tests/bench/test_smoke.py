"""`fnkit bench` end to end on a tiny config: digits, few runs.

The default run leaves out the torch baseline: its task root installs the torch CPU wheel (~900 MB).
The baseline handler and model export are covered in process by test_baseline.py; the whole baseline
through its own task root runs in the slow test below (`make test-all`). No timing is asserted.
"""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from fnkit_ops.cli import main


def run_bench(out: Path, built_models: Path, *extra: str) -> dict[str, Any]:
    code = main(
        [
            "bench",
            "digits",
            "--out",
            str(out),
            "--artifacts",
            str(built_models),
            "--cold-runs",
            "1",
            "--runs",
            "5",
            *extra,
        ]
    )
    assert code == 0
    data: dict[str, Any] = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    return data


def test_bench_runs_end_to_end_without_the_baseline(
    built_models: Path,
    repo_root: Path,
    tmp_path: Path,
    progress_lines: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the built shipped models, a copy of the registry and an output folder relative to the cwd
    registry = tmp_path / "models.toml"
    registry.write_text((repo_root / "models.toml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out = Path("bench")
    # WHEN the bench runs on digits, writing the recommendation into the registry copy
    data = run_bench(out, built_models, "--skip-baseline", "--registry", str(registry), "--write-registry")
    # THEN the ONNX variants and the floor were measured: footprint, cold start split, warm latency
    (model,) = data["models"]
    variants = {v["variant"]: v for v in model["variants"]}
    assert set(variants) == {"onnx-shipped", "onnx-fp32", "onnx-floor"}
    for v in variants.values():
        assert v["footprint_bytes"] > v["artifact_bytes"] > 0
        cold = v["cold"]
        assert cold["runs"] == 1 and cold["total_ms"] > 0 and cold["load_ms"] > 0
        # the floor loads at import: its parts add up; fnkit's load runs beside the other two parts
        background = 0.0 if v["variant"] == "onnx-floor" else cold["load_ms"]
        parts = cold["import_ms"] + cold["load_ms"] - background + cold["first_inference_ms"]
        assert parts == pytest.approx(cold["total_ms"])
        assert {(w["threads"], w["batch"]) for w in v["warm"]} == {(1, 1), (1, 8), (2, 1), (2, 8)}
        assert all(w["handler"]["runs"] == 5 and w["raw"]["runs"] == 5 for w in v["warm"])
        assert 0.9 <= v["metric_value"] <= 1.0
    # AND the targets that need the baseline are reported as not measured, the others are
    targets = {t["name"]: t for t in model["targets"]}
    assert targets["cold-start"]["passed"] is None
    assert targets["handler-overhead"]["measured"] is not None
    # AND the shipped variant's batch events got the same answers under AWS's Runtime Interface Emulator
    agreement = model["rie_agreement"]
    assert agreement["emulator"] == "rie" and agreement["agreed"] == agreement["events"] == 2
    assert targets["cold-vs-floor"]["measured"] is not None
    # AND the import table breaks both the shipped function and the floor down by package
    imports = {(row["variant"], row["package"]) for row in model["imports"]}
    for variant in ("onnx-shipped", "onnx-floor"):
        assert {(variant, "numpy"), (variant, "onnxruntime"), (variant, "awslambdaric")} <= imports
    assert ("onnx-shipped", "fnkit_runtime") in imports and (
        "onnx-shipped",
        "aws_lambda_powertools",
    ) in imports
    assert ("onnx-floor", "aws_lambda_powertools") not in imports
    # AND SnapStart's charges are priced at the balanced sizes
    assert model["snapstart"] and all(s["restore_usd_per_million"] > 0 for s in model["snapstart"])
    # AND the report, the chart and the progress are there
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "2 of 2 batch events identical to fnkit's Runtime API" in report
    assert "## digits" in report and "| **onnx-shipped**" in report
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert "onnx-floor: cold start 1" in progress_lines.getvalue()
    # AND the registry copy holds the balanced x86_64 size of the shipped variant, the rest unchanged
    balanced = next(
        m["memory_mb"]
        for m in model["memory"]
        if m["variant"] == "onnx-shipped" and m["strategy"] == "balanced" and m["architecture"] == "x86_64"
    )
    written = tomllib.loads(registry.read_text(encoding="utf-8"))
    original = tomllib.loads((repo_root / "models.toml").read_text(encoding="utf-8"))
    assert written["models"]["digits"]["function"]["memory_mb"] == balanced
    assert written["models"]["minilm"] == original["models"]["minilm"]
    assert not (out / "work").exists()


@pytest.mark.slow
def test_bench_with_the_torch_baseline(built_models: Path, tmp_path: Path) -> None:
    # WHEN the bench runs with the torch baseline (installs the torch wheel into a cached layer)
    data = run_bench(tmp_path / "bench", built_models)
    # THEN the baseline is measured through its own task root, and every digits target has a figure
    (model,) = data["models"]
    variants = {v["variant"]: v for v in model["variants"]}
    torch_variant = variants["torch-eager-fp32"]
    assert torch_variant["footprint_bytes"] > 5 * variants["onnx-shipped"]["footprint_bytes"]
    assert torch_variant["cold"]["load_ms"] > 0
    assert all(t["measured"] is not None for t in model["targets"])
