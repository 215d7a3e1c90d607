"""Model loading: verification before use, clear failures with a metric, init-time load, profiling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fnkit_ops.events import load_event
from fnkit_runtime.manifest import Manifest, sha256_file, write_atomic

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def _rewrite_manifest(model_dir: Path, **artifact: Any) -> None:
    data = json.loads((model_dir / "manifest.json").read_text())
    data["artifact"].update(artifact)
    write_atomic(model_dir / "manifest.json", Manifest.from_dict(data).to_json().encode())


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _corrupted_digits(tiny_models: Any, tmp_path: Path) -> Path:
    """A copy of the tiny digits model folder with one byte of its artifact flipped."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for item in tiny_models["digits"].model_dir.iterdir():
        (model_dir / item.name).write_bytes(item.read_bytes())
    _flip_byte(model_dir / "model.onnx")
    return model_dir


def _assert_load_failure(harness: Any, response: dict[str, Any]) -> None:
    assert response["statusCode"] == 500
    body = harness.body(response)
    assert body == {
        "error": "ModelLoadError",
        "message": "the model could not be loaded; the function's logs hold the cause",
        "request_id": harness.context.aws_request_id,
    }
    assert "outputs" not in response["body"]
    documents = harness.emf()
    assert any(d.get("ModelLoadErrors") == [1.0] and d.get("function_version") == "7" for d in documents)
    assert any(d.get("error_class") == "ModelLoadError" for d in documents)


def test_sha256_mismatch_is_a_load_error_with_a_metric_never_an_answer(harness, serve, model_copy):
    # GIVEN an artifact altered after the build (same size, different bytes)
    model_dir = model_copy("digits")
    _flip_byte(model_dir / "model.onnx")
    serve("digits", model_dir=model_dir)

    # WHEN a prediction is requested, twice
    first = harness.invoke(load_event("digits-http-api"))
    second = harness.invoke(load_event("digits-http-api"))

    # THEN both are 500 ModelLoadError with the metric; no outputs; the cause is logged
    _assert_load_failure(harness, first)
    assert second["statusCode"] == 500
    records = [r for r in harness.logs() if r.get("error") == "ModelLoadError"]
    assert records and "sha256" in records[0]["reason"]


@pytest.mark.parametrize(
    ("missing", "event"),
    [("model.onnx", "digits-rest-api"), ("manifest.json", "digits-health")],
    ids=["artifact-on-predict", "manifest-on-health"],
)
def test_a_missing_model_file_is_a_load_error(harness, serve, model_copy, missing, event):
    # GIVEN the artifact (or the manifest) is gone from the model dir
    model_dir = model_copy("digits")
    (model_dir / missing).unlink()
    serve("digits", model_dir=model_dir)

    # WHEN a prediction (or the health check, which reads only the manifest) is requested
    response = harness.invoke(load_event(event))

    # THEN the load fails clearly: 500 ModelLoadError
    _assert_load_failure(harness, response)


def test_corrupt_artifact_whose_manifest_matches_is_a_load_error(harness, serve, model_copy):
    # GIVEN garbage bytes that the manifest (rewritten) vouches for
    model_dir = model_copy("digits")
    artifact = model_dir / "model.onnx"
    artifact.write_bytes(b"this is not an onnx model" * 10)
    _rewrite_manifest(model_dir, sha256=sha256_file(artifact), bytes=artifact.stat().st_size)
    serve("digits", model_dir=model_dir)

    # WHEN a prediction is requested
    response = harness.invoke(load_event("digits-function-url"))

    # THEN onnxruntime's refusal is a ModelLoadError, not a crash
    _assert_load_failure(harness, response)


def test_manifest_for_another_model_is_a_load_error(harness, serve, tiny_models, monkeypatch):
    # GIVEN the digits function pointed at the text model's folder
    serve("digits", model_dir=tiny_models["minilm"].model_dir)

    # WHEN a prediction is requested
    response = harness.invoke(load_event("digits-http-api"))

    # THEN it refuses to serve the wrong model
    _assert_load_failure(harness, response)


def test_tokenizer_mismatch_is_a_load_error(harness, serve, model_copy):
    # GIVEN a tokenizer file changed after the build
    model_dir = model_copy("minilm")
    tokenizer = model_dir / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"[UNK]"', '"[UNKNOWN]"', 1))
    serve("minilm", model_dir=model_dir)

    # WHEN a prediction is requested
    response = harness.invoke(load_event("minilm-http-api"))

    # THEN it is a ModelLoadError
    _assert_load_failure(harness, response)


def test_warmup_with_a_broken_artifact_reports_the_error(harness, serve, model_copy):
    # GIVEN a broken artifact
    model_dir = model_copy("digits")
    _flip_byte(model_dir / "model.onnx")
    serve("digits", model_dir=model_dir)

    # WHEN the scheduled warm-up arrives
    answer = harness.invoke(load_event("digits-warmup"))

    # THEN the warm-up answers the error (status 500) and counts it as a load failure, not as a
    # request's 5xx (a warm-up is no request)
    assert answer["error"] == "ModelLoadError" and answer["status"] == 500
    names = harness.metric_names()
    assert "ModelLoadErrors" in names
    assert "ServerErrors" not in names and "Requests" not in names


_CONTEXT = (
    "context = types.SimpleNamespace(function_name='f', function_version='3',\n"
    "    memory_limit_in_mb=1024, invoked_function_arn='arn:aws:lambda:us-east-1:1:function:f',\n"
    "    aws_request_id='r-1')\n"
)


def _import_app(
    env: dict[str, str], invoke: bool = False, then: str = ""
) -> subprocess.CompletedProcess[str]:
    """A fresh process imports the handler module (and optionally handles a warm-up, then `then`)."""
    code = (
        "import json, sys, types\n"
        "import fnkit_runtime.app\n"
        "from fnkit_runtime.session import holder\n"
        "print(json.dumps({'loaded': holder.loaded}))\n"
    )
    if invoke:
        code += _CONTEXT + "fnkit_runtime.app.handler({'warmup': True}, context)\n"
    code += then
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _emf_documents(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]


# Two direct predictions after the import, in the same process (the prefetch tests' invocations).
_TWO_PREDICTIONS = (
    _CONTEXT
    + "from fnkit_ops.events import load_event\n"
    + "event = load_event('digits-direct')\n"
    + "for _ in range(2):\n"
    + "    print(json.dumps({'answer': fnkit_runtime.app.handler(event, context)}))\n"
)
_WAIT_FOR_PREFETCH = (
    "holder._prefetch.join()\nprint(json.dumps({'loaded_before_invocation': holder.loaded}))\n"
)


def _answers(stdout: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"answer"')]
    return [line["answer"] for line in lines]


def test_under_a_runtime_the_model_loads_in_the_background_and_reports_its_load_once(tiny_models):
    # GIVEN a good model under a Lambda runtime (its Runtime API is set), no FNKIT_LOAD_AT_INIT
    env = {
        "FNKIT_MODEL_NAME": "digits",
        "FNKIT_MODEL_DIR": str(tiny_models["digits"].model_dir),
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
    }

    # WHEN a fresh process imports the handler, waits for the background load, then predicts twice
    result = _import_app(env, then=_WAIT_FOR_PREFETCH + _TWO_PREDICTIONS)

    # THEN the model was loaded before any invocation, both answers are right, and ModelLoadTime is
    # in the first invocation's metrics only (recorded once, by the invocation)
    assert result.returncode == 0, result.stderr
    assert '{"loaded_before_invocation": true}' in result.stdout
    answers = _answers(result.stdout)
    expected = tiny_models["digits"].expected(load_event("digits-direct")["inputs"])
    for answer in answers:
        np.testing.assert_allclose(answer["outputs"]["logits"], expected, rtol=1e-5)
    main = [d for d in _emf_documents(result.stdout) if "Requests" in d]
    assert len(answers) == 2 and len(main) == 2
    assert main[0]["ModelLoadTime"][0] > 0 and "ModelLoadTime" not in main[1]


def test_a_background_load_failure_is_the_first_invocations_error_and_is_retried(tiny_models, tmp_path):
    # GIVEN a corrupted artifact under a Lambda runtime
    model_dir = _corrupted_digits(tiny_models, tmp_path)
    env = {
        "FNKIT_MODEL_NAME": "digits",
        "FNKIT_MODEL_DIR": str(model_dir),
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
    }

    # WHEN the handler module is imported (the load fails in the background) and predicts twice
    result = _import_app(env, then=_WAIT_FOR_PREFETCH + _TWO_PREDICTIONS)

    # THEN the import is no init error; each invocation answers the load error with its metric (the
    # second tried again: a failed load is not cached)
    assert result.returncode == 0, result.stderr
    answers = _answers(result.stdout)
    assert [(a["error"], a["status"]) for a in answers] == [("ModelLoadError", 500)] * 2
    main = [d for d in _emf_documents(result.stdout) if "Requests" in d]
    assert [d["ModelLoadErrors"] for d in main] == [[1.0], [1.0]]


def test_prefetch_false_or_no_runtime_leaves_the_load_to_the_first_invocation(tiny_models):
    base = {"FNKIT_MODEL_NAME": "digits", "FNKIT_MODEL_DIR": str(tiny_models["digits"].model_dir)}
    for extra in ({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9", "FNKIT_PREFETCH": "false"}, {}):
        # GIVEN FNKIT_PREFETCH=false under a runtime, or no runtime at all (in-process use)
        env = {**base, **extra}
        assert "AWS_LAMBDA_RUNTIME_API" in extra or "AWS_LAMBDA_RUNTIME_API" not in os.environ

        # WHEN a fresh process imports the handler module
        result = _import_app(
            env, then="import threading\nprint(sorted(t.name for t in threading.enumerate()))\n"
        )

        # THEN no load has started: nothing is loaded and no prefetch thread runs
        assert result.returncode == 0, result.stderr
        assert '{"loaded": false}' in result.stdout
        assert "fnkit-model-prefetch" not in result.stdout


def test_load_at_init_creates_the_session_at_import(tiny_models):
    # GIVEN FNKIT_LOAD_AT_INIT=true and a good model
    env = {
        "FNKIT_MODEL_NAME": "digits",
        "FNKIT_MODEL_DIR": str(tiny_models["digits"].model_dir),
        "FNKIT_LOAD_AT_INIT": "true",
    }

    # WHEN a fresh process imports the handler module, then handles a warm-up
    result = _import_app(env, invoke=True)

    # THEN the session exists before any invocation, and the first flush reports the init-time load
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert json.loads(lines[0]) == {"loaded": True}
    documents = [json.loads(line) for line in lines if line.startswith('{"_aws"')]
    main = next(d for d in documents if "WarmUps" in d)
    assert main["ModelLoadTime"][0] > 0 and main["function_version"] == "3"


def test_load_at_init_failure_is_an_init_error_with_a_metric(tiny_models, tmp_path):
    # GIVEN FNKIT_LOAD_AT_INIT=true and a corrupted artifact
    model_dir = _corrupted_digits(tiny_models, tmp_path)
    env = {"FNKIT_MODEL_NAME": "digits", "FNKIT_MODEL_DIR": str(model_dir), "FNKIT_LOAD_AT_INIT": "1"}

    # WHEN a fresh process imports the handler module
    result = _import_app(env)

    # THEN the import fails (Lambda reports an init error) after printing the ModelLoadErrors metric
    assert result.returncode != 0
    assert "ModelLoadError" in result.stderr
    documents = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"_aws"')]
    assert [d["ModelLoadErrors"] for d in documents] == [[1.0]]
    assert documents[0]["error_class"] == "ModelLoadError"


def test_profiling_logs_the_slowest_operators_and_ends_the_profile(harness, serve):
    # GIVEN FNKIT_PROFILE=true
    model = serve("digits", FNKIT_PROFILE="true")
    before = set(Path(tempfile.gettempdir()).glob("fnkit-profile-*"))

    # WHEN a prediction runs
    body = harness.invoke(load_event("digits-direct"))

    # THEN the answer is unchanged, the slowest operators are logged and no trace file is left behind
    np.testing.assert_allclose(
        body["outputs"]["logits"], model.expected(load_event("digits-direct")["inputs"])
    )
    records = [r for r in harness.logs() if r.get("message") == "onnxruntime profile"]
    assert records, harness.stdout()
    operators = records[0]["slowest_operators"]
    assert {op["op_type"] for op in operators} <= {"Flatten", "MatMul", "Add", "Gemm", "Reshape"}
    assert operators and all(op["calls"] >= 1 and op["total_us"] >= 0 for op in operators)
    assert set(Path(tempfile.gettempdir()).glob("fnkit-profile-*")) == before


def test_manifest_signature_that_the_graph_does_not_take_is_a_load_error(harness, serve, model_copy):
    # GIVEN a manifest whose input dtype is not the graph's (float64 declared, the graph takes float)
    model_dir = model_copy("digits")
    data = json.loads((model_dir / "manifest.json").read_text())
    data["signature"]["inputs"][0]["dtype"] = "float64"
    write_atomic(model_dir / "manifest.json", Manifest.from_dict(data).to_json().encode())
    serve("digits", model_dir=model_dir)

    # WHEN a well-formed prediction is requested
    response = harness.invoke(load_event("digits-http-api"))

    # THEN the function fails to load (500 with the metric), not a 400 blaming the client's input
    _assert_load_failure(harness, response)
    records = [r for r in harness.logs() if r.get("error") == "ModelLoadError"]
    assert records and "tensor(float)" in records[0]["reason"]


def test_text_manifest_without_a_tokenizer_sha256_is_a_load_error(harness, serve, model_copy):
    # GIVEN a text model whose manifest does not vouch for its tokenizer, and a tokenizer changed since
    model_dir = model_copy("minilm")
    data = json.loads((model_dir / "manifest.json").read_text())
    data["text"]["tokenizer_sha256"] = ""
    write_atomic(model_dir / "manifest.json", Manifest.from_dict(data).to_json().encode())
    tokenizer = model_dir / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"[UNK]"', '"[UNKNOWN]"', 1))
    serve("minilm", model_dir=model_dir)

    # WHEN a prediction is requested
    response = harness.invoke(load_event("minilm-http-api"))

    # THEN the unverifiable tokenizer is not used: a ModelLoadError
    _assert_load_failure(harness, response)
