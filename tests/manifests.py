"""One way for tests to write a valid manifest by hand: the parts every hand-made manifest shares
(a 1024 MB x86_64 function, a target CPU class vouched for by the fixture, one passing candidate)
are defaulted; the test names the rest."""

from __future__ import annotations

from pathlib import Path

from fnkit_runtime.manifest import (
    ArtifactInfo,
    CandidateResult,
    CpuCheck,
    FunctionSettings,
    GateInfo,
    GoldenSample,
    Limits,
    Manifest,
    Signature,
    TensorSpec,
    TextSpec,
    write_atomic,
)

FP32_GATE = GateInfo(metric="max_abs_error", threshold=1e-4, fp32_metric=0.0, chosen_metric=0.0)


def hand_made_manifest(
    *,
    model: str,
    task: str,
    artifact: ArtifactInfo,
    inputs: list[TensorSpec],
    outputs: list[TensorSpec],
    golden: list[GoldenSample],
    limits: Limits | None = None,
    variant: str = "fp32",
    gate: GateInfo = FP32_GATE,
    metric: float = 0.0,
    labels: list[str] | None = None,
    text: TextSpec | None = None,
    execution: str = "batch",
) -> Manifest:
    """A manifest whose one candidate, `variant` (with `metric`), passed and ships."""
    return Manifest(
        model=model,
        task=task,
        variant=variant,
        artifact=artifact,
        signature=Signature(inputs=inputs, outputs=outputs),
        limits=limits or Limits(),
        function=FunctionSettings(memory_mb=1024, architecture="x86_64"),
        gate=gate,
        candidates=[CandidateResult(name=variant, bytes=artifact.bytes, metric=metric, passed=True)],
        golden=golden,
        cpus=CpuCheck(targets=["x86_64-avx2"], verified={"x86_64-avx2": "test fixture"}),
        labels=labels,
        text=text,
        execution=execution,
    )


def write_manifest(model_dir: Path, manifest: Manifest) -> None:
    write_atomic(model_dir / "manifest.json", manifest.to_json().encode("utf-8"))
