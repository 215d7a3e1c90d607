"""Prepare each variant's model folder and evaluate its accuracy (build side: torch is imported here).

- onnx-shipped: the model as `fnkit build` wrote it (its chosen candidate).
- onnx-fp32: exported here with the build's own `export_onnx` (the build keeps only the chosen file),
  with the built manifest's fields and its artifact section rewritten for the fp32 file.
- torch-eager-fp32: the baseline's model folder (`baseline.export`).
Accuracy: the model's gate metric on the factory's evaluation set, through the build's own scorer,
against the torch module's outputs; the raw value is reported (accuracy, or cosine to torch).
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnkit_build.registry import ModelSpec
from fnkit_build.types import ModelBundle
from fnkit_runtime.manifest import ArtifactInfo, Manifest, sha256_file, write_atomic
from fnkit_runtime.vocabulary import ARTIFACT_FILE, MANIFEST_FILE, Candidate

from fnkit_ops.bench.baseline.export import BaselineModel, write_state_dict_model, write_transformers_model
from fnkit_ops.bench.exceptions import BenchError


@dataclass(frozen=True)
class Accuracy:
    name: str
    value: float


def export_fp32(spec: ModelSpec, bundle: ModelBundle, built: Manifest, built_dir: Path, dest: Path) -> Path:
    """An fp32 model folder served by the same handler: artifact, manifest (and tokenizer)."""
    import onnxruntime
    from fnkit_build.export import export_onnx, opset_of

    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    artifact = dest / ARTIFACT_FILE
    export_onnx(bundle.module, bundle.example_inputs, spec, artifact)
    info = ArtifactInfo(
        file=artifact.name,
        sha256=sha256_file(artifact),
        bytes=artifact.stat().st_size,
        opset=opset_of(artifact),
        onnxruntime_version=onnxruntime.__version__,
        optimized=False,
    )
    manifest = dataclasses.replace(built, artifact=info, variant=Candidate.FP32.value)
    if built.text is not None:
        shutil.copy2(built_dir / built.text.tokenizer_file, dest / built.text.tokenizer_file)
    write_atomic(dest / MANIFEST_FILE, manifest.to_json().encode("utf-8"))
    return dest


def export_baseline(spec: ModelSpec, bundle: ModelBundle, dest: Path) -> BaselineModel:
    if dest.exists():
        shutil.rmtree(dest)
    output = spec.outputs[0].name
    if spec.text is not None:
        if bundle.tokenizer_dir is None:
            raise BenchError(f"model {spec.name!r}: the factory gives no model folder for the baseline")
        return write_transformers_model(
            bundle.tokenizer_dir, dest, output=output, max_length=spec.text.max_length
        )
    if len(spec.inputs) != 1:
        raise BenchError(f"model {spec.name!r}: the torch baseline handles single-input tensor models")
    example = bundle.example_inputs[spec.inputs[0].name]
    labels = list(spec.labels) if spec.labels else None
    return write_state_dict_model(bundle.module, example, dest, output=output, labels=labels)


class AccuracyEvaluator:
    """Scores outputs on the factory's evaluation set with the build's gate scorer."""

    def __init__(self, spec: ModelSpec, bundle: ModelBundle) -> None:
        from fnkit_build.inference import run_torch

        self.spec = spec
        self.bundle = bundle
        self.reference = run_torch(bundle.module, bundle.eval_inputs, spec)
        self.name = spec.gate.metric.label

    def _raw(self, outputs: dict[str, Any]) -> float:
        from fnkit_build.gate import score

        _metric, raw, _reasons, _extra = score(
            self.spec.gate, outputs, self.reference, self.bundle.eval_labels
        )
        return float(raw)

    def torch(self) -> Accuracy:
        return Accuracy(self.name, self._raw(self.reference))

    def onnx(self, path: Path) -> Accuracy:
        from fnkit_build.inference import open_session, run_session

        outputs = run_session(open_session(path, threads=1), self.bundle.eval_inputs, self.spec)
        return Accuracy(self.name, self._raw(outputs))
