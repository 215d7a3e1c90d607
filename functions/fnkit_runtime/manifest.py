"""The manifest: the one contract between build, runtime, template, promotion and benchmark.

`fnkit build` writes `manifest.json` beside the artifact; the function reads it to verify the artifact
and validate requests; `fnkit promote` replays its golden samples; `fnkit bench` reads its candidates.
The manifest goes into the image, so it holds only functions of the build's inputs: two builds of the
same model and code give the same bytes, hence the same image and no new version to canary. What the
build measured (its time, the candidates' latencies) is in `build-report.json` beside the model folder
(`fnkit_build.buildreport`), which no image copies.

Change it deliberately: any change to the shape bumps `SCHEMA_VERSION`, and readers reject a version
they do not know. This module has no dependency beyond the standard library, so every side can use it.

Every reader validates on load (`Manifest.from_dict`, through `fnkit_runtime.schema`): each field's
type from its annotation, its range in `__post_init__`, unknown keys refused; the error names the
field. A manifest that says `"allow_non_finite": "false"` or `"max_batch": "64"` is not served.
(No `from __future__ import annotations` here: the dataclasses keep real types, which the reader
uses as they are instead of evaluating strings on the function's first request.)
"""

import hashlib
import json
import os
from dataclasses import asdict, field
from pathlib import Path
from typing import Any

from fnkit_runtime import schema
from fnkit_runtime.exceptions import ManifestError
from fnkit_runtime.records import record
from fnkit_runtime.schema import FieldError, at_least, finite, one_of, within
from fnkit_runtime.vocabulary import (
    DTYPES,
    MANIFEST_FILE,
    MEMORY_MAX_MB,
    MEMORY_MIN_MB,
    TEXT_GRAPH_INPUTS,
    Architecture,
    Metric,
    Task,
    values,
)

SCHEMA_VERSION = 3
"""Bump on any change to the manifest's shape. 2: `created_at` and the candidates' `latency_ms_p50`
moved out to the build report. 3 (this release): a repaired candidate's `repair` (nodes kept in
float, metric and bytes before repair); `execution` (how a request's items are run),
`text.on_overflow`, `artifact.fused_operators`; `cpus` (target CPU classes, those verified, a skip
warning) and golden `cosine_min`, tolerances derived from the spread measured across the verified
classes."""


_SHA256 = frozenset("0123456789abcdef")


def _sha256(path: str, value: str) -> None:
    if len(value) != 64 or not set(value) <= _SHA256:
        raise FieldError(path, "must be a sha256: 64 lower-case hex digits")


def _file_name(path: str, value: str) -> None:
    """A plain name inside the model folder: no folder part, nothing that climbs out of it."""
    if not value or value in (".", "..") or "/" in value or "\\" in value:
        raise FieldError(path, f"is {value!r}; it must be a plain file name in the model folder")


OVERFLOW_REJECT = "reject"
OVERFLOW_TRUNCATE = "truncate"
OVERFLOW_RULES = (OVERFLOW_REJECT, OVERFLOW_TRUNCATE)
"""What a text model does with an item over `max_length` tokens when the request does not say."""
EXECUTIONS = ("batch", "length_buckets", "per_item")
"""How the function runs a request's items (`fnkit_runtime.batching.Execution`)."""


@record
class TensorSpec:
    """One input or output of the served graph, as the client sees it.

    `shape` holds ints for fixed axes and strings for named dynamic axes ("batch", "sequence").
    The signature lists the graph's own inputs; for text models those are token tensors that the
    function fills from the client's strings as `TextSpec` says.
    """

    name: str
    dtype: str
    shape: list[int | str]

    def __post_init__(self) -> None:
        if not self.name:
            raise FieldError("name", "is empty")
        one_of("dtype", self.dtype, DTYPES)
        for axis, dim in enumerate(self.shape):
            if isinstance(dim, bool) or not isinstance(dim, (int, str)):
                raise FieldError(f"shape[{axis}]", f"must be an integer or an axis name, not {dim!r}")
            if isinstance(dim, int) and dim <= 0:
                raise FieldError(f"shape[{axis}]", f"is {dim}; a fixed dimension must be positive")
            if isinstance(dim, str) and not dim:
                raise FieldError(f"shape[{axis}]", "is an empty axis name")

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def dynamic_axes(self) -> dict[int, str]:
        """Axis index -> name for every named (dynamic) axis."""
        return {i: dim for i, dim in enumerate(self.shape) if isinstance(dim, str)}


@record
class Signature:
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    def __post_init__(self) -> None:
        if not self.inputs or not self.outputs:
            raise FieldError("inputs" if not self.inputs else "outputs", "must list at least one tensor")
        names = [t.name for t in (*self.inputs, *self.outputs)]
        for index, name in enumerate(names):
            if name in names[:index]:
                where = "outputs" if index >= len(self.inputs) else "inputs"
                raise FieldError(where, f"names {name!r} twice")


@record
class TextSpec:
    """How a text model turns strings into the graph's token inputs (tokenizer file is shipped)."""

    tokenizer_file: str
    max_length: int
    graph_inputs: list[str]
    """Graph input names fed from the tokenizer, e.g. input_ids, attention_mask, token_type_ids."""
    tokenizer_sha256: str = ""
    """sha256 of the tokenizer file; the function verifies it before loading (as the artifact), and
    refuses a text manifest without it."""
    on_overflow: str = OVERFLOW_REJECT
    """reject | truncate: an item over max_length tokens when the request sends no "truncate"."""

    def __post_init__(self) -> None:
        one_of("on_overflow", self.on_overflow, OVERFLOW_RULES)
        _file_name("tokenizer_file", self.tokenizer_file)
        at_least("max_length", self.max_length, 2)
        for index, name in enumerate(self.graph_inputs):
            one_of(f"graph_inputs[{index}]", name, TEXT_GRAPH_INPUTS)
        if not self.graph_inputs or len(set(self.graph_inputs)) != len(self.graph_inputs):
            raise FieldError("graph_inputs", f"{self.graph_inputs!r} must name each token input once")
        if self.tokenizer_sha256:
            _sha256("tokenizer_sha256", self.tokenizer_sha256)


@record
class Limits:
    """Request limits the function enforces (env vars may lower or raise them)."""

    max_batch: int = 64
    max_body_bytes: int = 1_048_576
    max_text_chars: int = 2_000
    allow_non_finite: bool = False

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_body_bytes", "max_text_chars"):
            at_least(name, getattr(self, name), 1)


@record
class ArtifactInfo:
    file: str
    sha256: str
    bytes: int
    opset: int
    onnxruntime_version: str
    optimized: bool
    """True when the file is an offline-optimized graph (session creation skips those passes)."""
    fused_operators: dict[str, int] = field(default_factory=dict)
    """Operators onnxruntime's transformer optimizer fused into the graph (Attention: 6, ...); empty
    for a graph it did not rewrite."""

    def __post_init__(self) -> None:
        _file_name("file", self.file)
        _sha256("sha256", self.sha256)
        at_least("bytes", self.bytes, 1)
        within("opset", self.opset, 1, 1000)
        parts = self.onnxruntime_version.split(".")
        if len(parts) < 3 or not all(part[:1].isdigit() for part in parts[:3]):
            raise FieldError("onnxruntime_version", f"is {self.onnxruntime_version!r}, not a version")


@record
class ExcludedNode:
    """A graph node a repaired candidate keeps in float, named as the quantizer sees it."""

    name: str
    op_type: str

    def __post_init__(self) -> None:
        if not self.name:
            raise FieldError("name", "is empty")


@record
class RepairInfo:
    """How a failing int8 candidate was repaired (`fnkit_build.repair`): the candidate it started
    from, the nodes kept in float, and that candidate's numbers before repair (after: the result's)."""

    base: str
    excluded: list[ExcludedNode]
    quantizable_nodes: int
    """Nodes the quantizer would quantize; the search ranked each by how much quantizing it costs."""
    max_excluded: int
    """The search's bound (registry `repair.max_excluded_fraction` of `quantizable_nodes`)."""
    metric_before: float
    bytes_before: int

    def __post_init__(self) -> None:
        if not self.base:
            raise FieldError("base", "is empty")
        at_least("quantizable_nodes", self.quantizable_nodes, 0)
        at_least("max_excluded", self.max_excluded, 0)
        at_least("bytes_before", self.bytes_before, 1)


@record
class CandidateResult:
    """One quantization candidate as the gate saw it (its measured latency is in the build report)."""

    name: str
    """e.g. fp32, int8-dynamic, int8-dynamic-per-channel, int8-static-qdq."""
    bytes: int
    metric: float
    passed: bool
    reason: str = ""
    extra: dict[str, float] = field(default_factory=dict)
    repair: RepairInfo | None = None
    """Set on a repaired candidate (`<base>-repaired`): what was kept in float, and the numbers before."""

    def __post_init__(self) -> None:
        if not self.name:
            raise FieldError("name", "is empty")
        at_least("bytes", self.bytes, 1)


@record
class GateInfo:
    metric: str
    """accuracy_drop | cosine_mean | max_abs_error."""
    threshold: float
    fp32_metric: float
    """The metric's raw value for fp32 (e.g. accuracy 0.978) so reports can show fp32 -> chosen."""
    chosen_metric: float

    def __post_init__(self) -> None:
        one_of("metric", self.metric, values(Metric))
        finite("threshold", self.threshold)
        at_least("threshold", self.threshold, 0)


@record
class GoldenSample:
    """A request body and the outputs it must produce, for smoke tests after a deploy."""

    request: dict[str, Any]
    """The JSON body a client POSTs to the prediction route."""
    outputs: dict[str, Any]
    """Expected outputs by name, nested lists, as the function returns them under `outputs`."""
    atol: float
    rtol: float
    cosine_min: float | None = None
    """Embeddings: each returned row's cosine similarity to the golden row must reach this too."""

    def __post_init__(self) -> None:
        for name in ("atol", "rtol"):
            finite(name, getattr(self, name))
            at_least(name, getattr(self, name), 0)
        if self.cosine_min is not None:
            within("cosine_min", self.cosine_min, -1, 1)


@record
class CpuCheck:
    """The CPU classes the function may land on, and those the build ran the artifact on."""

    targets: list[str]
    """The registry's target classes (`function.cpus`), which set the quantization preset."""
    verified: dict[str, str] = field(default_factory=dict)
    """Class -> how it was run (an emulator, or the build host); golden tolerances cover them all."""
    warning: str = ""
    """Set when verification was skipped (`fnkit build --no-verify-cpus`)."""

    def __post_init__(self) -> None:
        if not self.targets:
            raise ManifestError("cpus.targets names no CPU class")
        if not self.verified and not self.warning:
            raise ManifestError("cpus: no class verified and no warning saying why")


@record
class FunctionSettings:
    memory_mb: int
    architecture: str

    def __post_init__(self) -> None:
        within("memory_mb", self.memory_mb, MEMORY_MIN_MB, MEMORY_MAX_MB)
        one_of("architecture", self.architecture, values(Architecture))


@record
class Manifest:
    model: str
    task: str
    variant: str
    """Name of the chosen candidate."""
    artifact: ArtifactInfo
    signature: Signature
    limits: Limits
    function: FunctionSettings
    gate: GateInfo
    candidates: list[CandidateResult]
    golden: list[GoldenSample]
    cpus: CpuCheck
    labels: list[str] | None = None
    """Class labels for classification models (index -> label)."""
    text: TextSpec | None = None
    execution: str = "batch"
    """How the function runs a request's items (batch | length_buckets | per_item); the build's
    batch-invariance gate chose it for this artifact."""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        one_of("execution", self.execution, EXECUTIONS)
        if self.schema_version != SCHEMA_VERSION:
            raise ManifestError(
                f"manifest schema_version {self.schema_version} is not supported "
                f"(this runtime reads version {SCHEMA_VERSION})"
            )
        if not self.model:
            raise FieldError("model", "is empty")
        one_of("task", self.task, values(Task))
        if self.variant not in {c.name for c in self.candidates}:
            raise FieldError("variant", f"{self.variant!r} is not among the candidates")
        self._check_labels()
        if self.text is not None:
            inputs = sorted(t.name for t in self.signature.inputs)
            if sorted(self.text.graph_inputs) != inputs:
                raise FieldError("text.graph_inputs", f"must name the signature's inputs {inputs}")

    def _check_labels(self) -> None:
        """Labels exactly for classification: one distinct string per class of the first output."""
        if self.task != Task.CLASSIFICATION:
            if self.labels is not None:
                raise FieldError("labels", f"only classification models have labels, not {self.task!r}")
            return
        if not self.labels:
            raise FieldError("labels", "a classification model needs its class labels")
        if len(set(self.labels)) != len(self.labels) or not all(self.labels):
            raise FieldError("labels", "must be distinct, non-empty strings")
        classes = self.signature.outputs[0].shape[-1] if self.signature.outputs[0].shape else None
        if isinstance(classes, int) and classes != len(self.labels):
            raise FieldError("labels", f"has {len(self.labels)} labels for {classes} classes")

    @property
    def model_version(self) -> str:
        """Short, content-derived version carried by every response: the artifact's sha256 prefix."""
        return self.artifact.sha256[:12]

    def public(self) -> dict[str, Any]:
        """The part safe to show clients (health route): no candidates, golden data or file names."""
        return {
            "model": self.model,
            "model_version": self.model_version,
            "task": self.task,
            "variant": self.variant,
            "schema_version": self.schema_version,
            "signature": asdict(self.signature),
            "limits": asdict(self.limits),
            "labels": self.labels,
            "text": None
            if self.text is None
            else {"max_length": self.text.max_length, "on_overflow": self.text.on_overflow},
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> "Manifest":
        """The manifest in `data`, every field type- and range-checked (FieldError names the field)."""
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            raise ManifestError(
                f"manifest schema_version {version!r} is not supported "
                f"(this runtime reads version {SCHEMA_VERSION})"
            )
        return schema.read(cls, data)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest(model_dir: Path) -> Manifest:
    """Read and validate `model_dir/manifest.json`."""
    path = model_dir / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(f"no manifest at {path}") from exc
    except (OSError, ValueError) as exc:
        raise ManifestError(f"manifest at {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"manifest at {path} is not a JSON object")
    return Manifest.from_dict(data)


def sized_artifact(manifest: Manifest, model_dir: Path) -> Path:
    """The artifact's path, checked to exist with the manifest's size (the cheap half of the check)."""
    path = model_dir / manifest.artifact.file
    if not path.is_file():
        raise ManifestError(f"artifact {manifest.artifact.file} is missing")
    size = path.stat().st_size
    if size != manifest.artifact.bytes:
        raise ManifestError(
            f"artifact {manifest.artifact.file} is {size} bytes; manifest says {manifest.artifact.bytes}"
        )
    return path


def check_artifact_digest(manifest: Manifest, digest: str) -> None:
    """The artifact's sha256 (computed by the caller over the bytes it uses) must be the manifest's."""
    if digest != manifest.artifact.sha256:
        raise ManifestError(
            f"artifact {manifest.artifact.file} sha256 {digest[:12]} does not match "
            f"manifest {manifest.artifact.sha256[:12]}"
        )


def verify_artifact(manifest: Manifest, model_dir: Path) -> Path:
    """Check the artifact exists with the manifest's size and sha256; return its path."""
    path = sized_artifact(manifest, model_dir)
    check_artifact_digest(manifest, sha256_file(path))
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder and os.replace."""
    import tempfile  # writers only (build, bench, promote): keeps it out of the function's cold start

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
