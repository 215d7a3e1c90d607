"""The served model: manifest, verified artifact and onnxruntime session, created once and reused.

Nothing loads at import unless FNKIT_LOAD_AT_INIT is set (see `app`). The first request that needs
the model verifies the artifact's size and sha256 against the manifest and creates the session;
any mismatch, missing or corrupt file becomes a `ModelLoadError`, never an answer from a wrong model.
A failed load is not cached: the next request tries again (and fails the same way, with its metric).

The sha256 is computed by a thread while onnxruntime creates the session from the same file (hashlib
releases the GIL), and the session is used only once the digest matches the manifest: with more than
one vCPU the check overlaps session creation instead of adding to it. (Building the session from the
bytes that were hashed was measured and rejected: onnxruntime then copies the model, ~24 ms more CPU
for minilm than loading from the path.)
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

from fnkit_runtime import constants as c
from fnkit_runtime.batching import Execution
from fnkit_runtime.config import RuntimeConfig
from fnkit_runtime.exceptions import ManifestError, ModelInputRejectedError, ModelLoadError
from fnkit_runtime.manifest import (
    Limits,
    Manifest,
    TensorSpec,
    check_artifact_digest,
    load_manifest,
    sha256_file,
    sized_artifact,
)
from fnkit_runtime.records import record

if TYPE_CHECKING:
    from fnkit_runtime.text import TextEncoder

T = TypeVar("T")

# `fnkit_runtime.observability` (powertools) is imported where it is used: `app` starts the model's
# background load before powertools is imported, so that import overlaps the session's creation.


@record  # no slots: `output_names` is a cached_property in the instance dict
class LoadedModel:
    manifest: Manifest
    limits: Limits
    model_path: Path
    session: ort.InferenceSession
    encoder: TextEncoder | None
    config: RuntimeConfig
    load_ms: float

    @functools.cached_property
    def output_names(self) -> list[str]:
        """Computed once (every invocation asks)."""
        return [spec.name for spec in self.manifest.signature.outputs]

    @property
    def execution(self) -> Execution:
        """How a request's items are run (the build's batch-invariance gate chose it)."""
        return Execution(self.manifest.execution)

    def session_options(self) -> ort.SessionOptions:
        return session_options(self.config, self.manifest)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with input_rejections():
            results = self.session.run(self.output_names, feeds)
        return dict(zip(self.output_names, results, strict=True))


@contextmanager
def input_rejections() -> Iterator[None]:
    """onnxruntime's INVALID_ARGUMENT at run time is the input's fault (400), logged in full upstream."""
    try:
        yield
    except InvalidArgument as exc:
        raise ModelInputRejectedError(
            "the model rejected the input values (for example an index out of range)"
        ) from exc


def graph_optimization_level(optimized: bool) -> ort.GraphOptimizationLevel:
    """No graph passes on an offline-optimized file (it already had them); all of them otherwise.

    The build verifies artifacts and computes golden outputs under this same level.
    """
    level = ort.GraphOptimizationLevel
    return level.ORT_DISABLE_ALL if optimized else level.ORT_ENABLE_ALL


def session_options(config: RuntimeConfig, manifest: Manifest) -> ort.SessionOptions:
    """Explicit thread counts (never os.cpu_count()); no graph passes on an offline-optimized file."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = config.inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = graph_optimization_level(manifest.artifact.optimized)
    options.log_severity_level = 3
    return options


def read_manifest(config: RuntimeConfig) -> Manifest:
    """The manifest in the model dir, checked to describe the model this function serves."""
    try:
        manifest = load_manifest(config.model_dir)
    except ManifestError as exc:
        raise ModelLoadError(f"manifest: {exc}") from exc
    if manifest.model != config.model_name:
        raise ModelLoadError(
            f"manifest is for model {manifest.model!r}, function serves {config.model_name!r}"
        )
    return manifest


_ORT_TYPES = {
    "float32": "tensor(float)",
    "float16": "tensor(float16)",
    "float64": "tensor(double)",
    "int64": "tensor(int64)",
    "int32": "tensor(int32)",
    "int8": "tensor(int8)",
    "uint8": "tensor(uint8)",
    "bool": "tensor(bool)",
    "string": "tensor(string)",
}
"""Manifest dtype -> onnxruntime's NodeArg.type."""


def _input_mismatch(node: ort.NodeArg, spec: TensorSpec) -> str | None:
    """Why requests validated against `spec` would not fit the graph input `node` (None if they do)."""
    if node.type != _ORT_TYPES[spec.dtype]:
        return f"input {spec.name!r} is {node.type} in the graph, {spec.dtype} in the manifest"
    shape = node.shape
    if len(shape) != spec.rank:
        return f"input {spec.name!r} has rank {len(shape)} in the graph, {spec.rank} in the manifest"
    for axis, (graph_dim, dim) in enumerate(zip(shape, spec.shape, strict=True)):
        if isinstance(graph_dim, int) and graph_dim != dim:
            return f"input {spec.name!r} axis {axis} is {graph_dim} in the graph, {dim!r} in the manifest"
    return None


def _check_io(session: ort.InferenceSession, manifest: Manifest) -> None:
    """The graph takes exactly what the manifest validates requests against: names, dtypes, shapes.

    Otherwise every well-formed request would be refused by onnxruntime at run time and answered as
    the client's error (400) when the build output is at fault.
    """
    graph_inputs = {node.name: node for node in session.get_inputs()}
    graph_outputs = {node.name for node in session.get_outputs()}
    declared_inputs = {spec.name for spec in manifest.signature.inputs}
    missing_outputs = {spec.name for spec in manifest.signature.outputs} - graph_outputs
    if set(graph_inputs) != declared_inputs or missing_outputs:
        raise ModelLoadError(
            f"graph inputs {sorted(graph_inputs)} / outputs {sorted(graph_outputs)} do not match the "
            f"manifest's signature"
        )
    for spec in manifest.signature.inputs:
        problem = _input_mismatch(graph_inputs[spec.name], spec)
        if problem is not None:
            raise ModelLoadError(f"the graph does not match the manifest's signature: {problem}")


def check_onnxruntime_version(manifest: Manifest, config: RuntimeConfig, installed: str) -> None:
    """The artifact was built, gated and its goldens computed with one onnxruntime: serve it with that
    one, unless FNKIT_ALLOW_ONNXRUNTIME_MISMATCH says otherwise (then the mismatch is logged)."""
    recorded = manifest.artifact.onnxruntime_version
    if recorded == installed:
        return
    if not config.allow_onnxruntime_mismatch:
        raise ModelLoadError(
            f"artifact was built with onnxruntime {recorded}, this function has {installed}; rebuild "
            f"the model, or set {c.ALLOW_ONNXRUNTIME_MISMATCH_ENV}=true to serve it anyway"
        )
    from fnkit_runtime import observability

    observability.logger.warning(
        "onnxruntime version mismatch allowed", extra={"recorded": recorded, "installed": installed}
    )


class _Beside(threading.Thread, Generic[T]):
    """One call run beside the caller's work: onnxruntime creates sessions and hashlib hashes without
    the GIL, so with more than one vCPU they overlap each other and the caller's Python."""

    def __init__(self, name: str, call: Callable[[], T]) -> None:
        super().__init__(name=name)
        self._call = call
        self._value: T | None = None
        self._error: Exception | None = None
        self.start()

    def run(self) -> None:
        try:
            self._value = self._call()
        except Exception as exc:
            self._error = exc

    def outcome(self) -> T:
        """The call's value, or its exception raised here."""
        self.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


def _artifact_path(config: RuntimeConfig, manifest: Manifest) -> Path:
    try:
        return sized_artifact(manifest, config.model_dir)
    except ManifestError as exc:
        raise ModelLoadError(f"artifact: {exc}") from exc


def _verified(
    session: _Beside[ort.InferenceSession], digest: _Beside[str], manifest: Manifest
) -> ort.InferenceSession:
    """The session, returned only when the file it was created from has the manifest's sha256."""
    try:
        hexdigest = digest.outcome()
    except OSError as exc:
        session.join()
        raise ModelLoadError(f"artifact: {manifest.artifact.file} is unreadable: {exc}") from exc
    try:
        created = session.outcome()
    except Exception as exc:
        if hexdigest != manifest.artifact.sha256:  # a wrong file is the cause, not onnxruntime
            raise ModelLoadError(f"artifact: {manifest.artifact.file} does not match its sha256") from exc
        raise ModelLoadError(f"onnxruntime could not load {manifest.artifact.file}: {exc}") from exc
    try:
        check_artifact_digest(manifest, hexdigest)
    except ManifestError as exc:
        raise ModelLoadError(f"artifact: {exc}") from exc
    return created


def load_model(config: RuntimeConfig) -> LoadedModel:
    """Verify and load the model named by `config`; every failure is a ModelLoadError.

    The artifact's digest and its session are computed in two threads while this one reads the
    tokenizer (text models); the session is used only once the digest matches the manifest.
    """
    start = time.perf_counter()
    manifest = read_manifest(config)
    check_onnxruntime_version(manifest, config, ort.__version__)
    model_path = _artifact_path(config, manifest)
    digest = _Beside("fnkit-artifact-sha256", lambda: sha256_file(model_path))
    options = session_options(config, manifest)

    def create() -> ort.InferenceSession:
        return ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])

    creation = _Beside("fnkit-session", create)
    encoder: TextEncoder | None = None
    try:
        if manifest.text:
            from fnkit_runtime.text import TextEncoder  # text models only

            encoder = TextEncoder(config.model_dir, manifest.text, manifest.signature.inputs)
    except BaseException:
        creation.join()  # never leave a load running behind a failure
        digest.join()
        raise
    session = _verified(creation, digest, manifest)
    _check_io(session, manifest)
    return LoadedModel(
        manifest=manifest,
        limits=config.limits(manifest.limits),
        model_path=model_path,
        session=session,
        encoder=encoder,
        config=config,
        load_ms=(time.perf_counter() - start) * 1000.0,
    )


class ModelHolder:
    """Process-wide lazy state: the configuration, the manifest (for health) and the loaded model.

    `prefetch` starts the load in a background thread so that it overlaps the rest of the init (the
    session is created by onnxruntime's C++ code and the digest by hashlib, both without the GIL); the
    first invocation that needs the model waits for it, and a load that failed in the background is
    raised there, once (the next invocation tries again).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._config: RuntimeConfig | None = None
        self._manifest: Manifest | None = None
        self._model: LoadedModel | None = None
        self._prefetch: threading.Thread | None = None
        self._prefetch_error: Exception | None = None
        self._load_reported = True

    @property
    def config(self) -> RuntimeConfig:
        if self._config is None:
            self._config = RuntimeConfig.from_env()
        return self._config

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def manifest(self) -> Manifest:
        """The manifest alone, without creating the session (health route)."""
        if self._model is not None:
            return self._model.manifest
        if self._manifest is None:
            self._manifest = read_manifest(self.config)
        return self._manifest

    def prefetch(self) -> None:
        """Start loading the model in a background thread (non-daemon: never cut off mid-load)."""
        if self._model is None and self._prefetch is None:
            self._prefetch = threading.Thread(target=self._background_load, name="fnkit-model-prefetch")
            self._prefetch.start()

    def _background_load(self) -> None:
        with self._lock:
            try:
                self._store(load_model(self.config), reported=False)
            except Exception as exc:  # raised by the first invocation that needs the model
                self._prefetch_error = exc

    def _store(self, model: LoadedModel, *, reported: bool) -> None:
        self._model = model
        self._manifest = model.manifest
        self._load_reported = reported

    def model(self) -> LoadedModel:
        """The loaded model; the first call loads it (or waits for the prefetch) and records
        ModelLoadTime.

        A load at init (FNKIT_LOAD_AT_INIT) records the metric too: powertools keeps it in memory
        until the first invocation flushes, with that invocation's dimensions. A background load's
        metric is recorded here, by the invocation's thread, never by the loading thread.
        """
        if self._model is None:
            with self._lock:
                if self._prefetch_error is not None:
                    error, self._prefetch_error = self._prefetch_error, None
                    raise error
                if self._model is None:
                    self._store(load_model(self.config), reported=False)
        assert self._model is not None
        if not self._load_reported:
            from fnkit_runtime import observability

            self._load_reported = True
            observability.record_model_load(self._model.load_ms)
        return self._model

    def reset(self) -> None:
        """Forget everything (tests; a new configuration is read on next use)."""
        if self._prefetch is not None:
            self._prefetch.join()
        self._clear()


holder = ModelHolder()
