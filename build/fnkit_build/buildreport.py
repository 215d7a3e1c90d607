"""The build report: what `fnkit build` measured, kept out of the image.

`<out>/<model>/build-report.json` sits beside the model folder `<out>/<model>/model/`, which is what the
Dockerfile (and `fnkit invoke`) copies. The manifest inside the model folder holds only functions of
the build's inputs, so an unchanged rebuild gives the same image inputs and no new Lambda version;
the build's time and each candidate's measured latency live here instead.

Shape (schema_version 2):
    {"schema_version": 2, "model", "artifact_sha256", "created_at",
     "candidates": {"<name>": {"latency_ms_p50": float}},
     "cpu_verification": {"seconds": float, "classes": {"<cpu class>": seconds}}}
`artifact_sha256` ties the report to the manifest (and artifact) it was measured with.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fnkit_runtime.manifest import Manifest, write_atomic

from fnkit_build.exceptions import PackageError
from fnkit_build.gate import Evaluation
from fnkit_build.verify import Verification

BUILD_REPORT_FILE = "build-report.json"
BUILD_REPORT_SCHEMA_VERSION = 2
"""2: `cpu_verification` (the emulated runs' time per target CPU class)."""


@dataclass(frozen=True)
class CandidateTiming:
    latency_ms_p50: float
    """p50 of one single-item run on a 1-thread session, on the build machine."""


@dataclass(frozen=True)
class BuildReport:
    model: str
    artifact_sha256: str
    created_at: str
    """ISO-8601 UTC, seconds."""
    candidates: dict[str, CandidateTiming] = field(default_factory=dict)
    cpu_verification: dict[str, Any] = field(default_factory=dict)
    """{"seconds": total, "classes": {class: seconds}} of the final verification; {} when skipped."""
    schema_version: int = BUILD_REPORT_SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildReport:
        version = data.get("schema_version")
        if version != BUILD_REPORT_SCHEMA_VERSION:
            raise PackageError(
                f"build report schema_version {version!r} is not supported "
                f"(this build reads version {BUILD_REPORT_SCHEMA_VERSION})"
            )
        try:
            return cls(
                model=data["model"],
                artifact_sha256=data["artifact_sha256"],
                created_at=data["created_at"],
                candidates={k: CandidateTiming(**v) for k, v in data["candidates"].items()},
                cpu_verification=dict(data["cpu_verification"]),
                schema_version=version,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise PackageError(f"build report is malformed: {exc!r}") from exc


def build_report_path(model_dir: Path) -> Path:
    """`<out>/<model>/build-report.json` for the model folder `<out>/<model>/model/`."""
    return model_dir.parent / BUILD_REPORT_FILE


def make_build_report(
    manifest: Manifest, evaluations: Sequence[Evaluation], verification: Verification
) -> BuildReport:
    timing: dict[str, Any] = {}
    if not verification.skipped:
        classes = {run.cpu: round(run.seconds, 2) for run in verification.runs}
        timing = {"seconds": round(verification.seconds, 2), "classes": classes}
    return BuildReport(
        model=manifest.model,
        artifact_sha256=manifest.artifact.sha256,
        created_at=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        candidates={e.name: CandidateTiming(round(e.latency_ms_p50, 4)) for e in evaluations},
        cpu_verification=timing,
    )


def write_build_report(model_dir: Path, report: BuildReport) -> Path:
    path = build_report_path(model_dir)
    try:
        write_atomic(path, report.to_json().encode("utf-8"))
    except OSError as exc:
        raise PackageError(f"model {report.model!r}: cannot write {path}: {exc}") from exc
    return path


def load_build_report(model_dir: Path) -> BuildReport:
    """The report of the build that wrote `model_dir`; PackageError when missing or unreadable."""
    path = build_report_path(model_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PackageError(f"no readable build report at {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise PackageError(f"build report at {path} is not a JSON object")
    return BuildReport.from_dict(data)
