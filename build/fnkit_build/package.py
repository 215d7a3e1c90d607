"""Write `<out>/<model>/model/` atomically: artifact, tokenizer files and manifest.json.

Everything is staged in a temporary folder beside the destination and swapped in with renames, so
the function's image never picks up a half-written artifact: the folder holds either the previous
complete build or the new complete one. The manifest is deterministic: same inputs give the same
artifact bytes, the same sha256, the same manifest bytes, so the image's inputs do not change. What the
build measured (time, latencies) goes to the build report beside the folder (`buildreport`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from fnkit_runtime.manifest import (
    ArtifactInfo,
    CpuCheck,
    GateInfo,
    GoldenSample,
    Manifest,
    RepairInfo,
    Signature,
    TextSpec,
    sha256_file,
)
from fnkit_runtime.vocabulary import ARTIFACT_FILE, MANIFEST_FILE, MODEL_SUBDIR, Candidate

from fnkit_build.exceptions import PackageError
from fnkit_build.gate import Evaluation
from fnkit_build.registry import ModelSpec
from fnkit_build.verify import Verification


def shipped_text(text: TextSpec, tokenizer: Path) -> TextSpec:
    """The registry's text spec with the sha256 of the tokenizer file that ships beside the artifact."""
    return replace(text, tokenizer_sha256=sha256_file(tokenizer))


def make_manifest(
    spec: ModelSpec,
    artifact: Path,
    *,
    opset: int,
    onnxruntime_version: str,
    optimized: bool,
    chosen: Evaluation,
    evaluations: list[Evaluation],
    golden: list[GoldenSample],
    verification: Verification,
    tokenizer: Path | None = None,
    repairs: Mapping[str, RepairInfo] | None = None,
) -> Manifest:
    """The manifest for the chosen artifact (whose final bytes are `artifact`); `repairs` by the
    repaired candidate's name."""
    repairs = repairs or {}
    fp32 = next(e for e in evaluations if e.name == Candidate.FP32)
    text = None
    if spec.text is not None:
        if tokenizer is None:
            raise PackageError(
                f"model {spec.name!r}: text model without its tokenizer file {spec.text.tokenizer_file!r}; "
                "the function verifies it by sha256 and cannot serve without it"
            )
        text = shipped_text(spec.text, tokenizer)
    if chosen.execution is None:
        raise PackageError(f"model {spec.name!r}: the chosen candidate {chosen.name} is not batch-invariant")
    return Manifest(
        model=spec.name,
        task=spec.task,
        variant=chosen.name,
        artifact=ArtifactInfo(
            file=ARTIFACT_FILE,
            sha256=sha256_file(artifact),
            bytes=artifact.stat().st_size,
            opset=opset,
            onnxruntime_version=onnxruntime_version,
            optimized=optimized,
            fused_operators=dict(chosen.fused_operators),
        ),
        signature=Signature(inputs=list(spec.inputs), outputs=list(spec.outputs)),
        limits=spec.limits,
        function=spec.function.settings(),
        gate=GateInfo(
            metric=spec.gate.metric,
            threshold=spec.gate.threshold,
            fp32_metric=fp32.raw_metric,
            chosen_metric=chosen.raw_metric,
        ),
        candidates=[e.result(repairs.get(e.name)) for e in evaluations],
        golden=golden,
        cpus=CpuCheck(
            targets=list(spec.function.cpus), verified=verification.verified, warning=verification.warning
        ),
        labels=list(spec.labels) if spec.labels else None,
        text=text,
        execution=chosen.execution,
    )


def write_model_dir(out: Path, manifest: Manifest, artifact: Path, extra_files: Mapping[str, Path]) -> Path:
    """Stage artifact + extra files + manifest.json, then swap them in as `<out>/<model>/model/`."""
    model_root = out / manifest.model
    target = model_root / MODEL_SUBDIR
    try:
        model_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=model_root, prefix=f".{MODEL_SUBDIR}.staging-"))
    except OSError as exc:
        raise PackageError(f"model {manifest.model!r}: cannot create {model_root}: {exc}") from exc
    old = model_root / f".{MODEL_SUBDIR}.old-{os.getpid()}"
    try:
        shutil.copyfile(artifact, staging / manifest.artifact.file)
        for name, source in sorted(extra_files.items()):
            shutil.copyfile(source, staging / name)
        (staging / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
        for path in staging.iterdir():
            _fsync(path)
        os.chmod(staging, 0o755)
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
    except OSError as exc:
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise PackageError(
            f"model {manifest.model!r}: cannot write {target}: {exc}; nothing changed"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
