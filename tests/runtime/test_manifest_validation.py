"""The manifest is checked field by field on load; a wrong one is a ModelLoadError, never an answer.

And the request side of the same strictness: a JSON boolean is never a number, nor a number a boolean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fnkit_ops.events import load_event
from fnkit_runtime.codec import decode_tensor
from fnkit_runtime.exceptions import InputDtypeError, ManifestError
from fnkit_runtime.manifest import Manifest, TensorSpec, load_manifest, write_atomic


def _edit(data: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b[0].c` in `data` (a value of `...` deletes the key)."""
    parts = path.replace("[", ".[").split(".")
    target: Any = data
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    last = parts[-1]
    key: Any = int(last[1:-1]) if last.startswith("[") else last
    if value is ...:
        del target[key]
    else:
        target[key] = value


def _write(model_dir: Path, data: dict[str, Any]) -> None:
    write_atomic(model_dir / "manifest.json", json.dumps(data).encode())


WRONG_FIELDS = [
    # (field, wrong value, what the error says): each field of the schema, wrong in type or range
    ("schema_version", 1, "schema_version 1 is not supported"),
    ("model", 7, "'model' must be a string"),
    ("model", "", "'model' is empty"),
    ("task", "regression", "'task' is 'regression'"),
    ("task", "embedding", "'labels' only classification models have labels"),
    ("variant", "int4", "'variant' 'int4' is not among the candidates"),
    ("artifact.file", "../model.onnx", "'artifact.file'"),
    ("artifact.sha256", "ABC", "'artifact.sha256' must be a sha256"),
    ("artifact.bytes", "4096", "'artifact.bytes' must be an integer, not a string"),
    ("artifact.bytes", 0, "'artifact.bytes' is 0"),
    ("artifact.opset", 17.0, "'artifact.opset' must be an integer, not a number"),
    ("artifact.onnxruntime_version", 1.32, "'artifact.onnxruntime_version' must be a string"),
    ("artifact.onnxruntime_version", "latest", "'artifact.onnxruntime_version' is 'latest'"),
    ("artifact.optimized", "false", "'artifact.optimized' must be a boolean"),
    ("artifact.extra", 1, "'artifact.extra' is not a known field"),
    ("signature.inputs", [], "'signature.inputs' must list at least one tensor"),
    ("signature.inputs[0].name", ["pixels"], "'signature.inputs[0].name' must be a string"),
    ("signature.inputs[0].dtype", "float", "'signature.inputs[0].dtype' is 'float'"),
    ("signature.inputs[0].shape", "batch,1,8,8", "'signature.inputs[0].shape' must be a list"),
    ("signature.inputs[0].shape[1]", True, "'signature.inputs[0].shape[1]' must be an integer or a string"),
    ("signature.inputs[0].shape[1]", 0, "'signature.inputs[0].shape[1]' is 0"),
    ("signature.outputs[0].name", "pixels", "'signature.outputs' names 'pixels' twice"),
    ("limits.max_batch", "64", "'limits.max_batch' must be an integer, not a string '64'"),
    ("limits.max_batch", 0, "'limits.max_batch' is 0"),
    ("limits.max_body_bytes", 1e6, "'limits.max_body_bytes' must be an integer, not a number"),
    ("limits.max_text_chars", None, "'limits.max_text_chars' must be an integer, not null"),
    ("limits.allow_non_finite", "false", "'limits.allow_non_finite' must be a boolean, not a string"),
    ("limits.allow_non_finite", 0, "'limits.allow_non_finite' must be a boolean, not an integer"),
    ("limits.max_batches", 64, "'limits.max_batches' is not a known field"),
    ("function.memory_mb", 64, "'function.memory_mb' is 64"),
    ("function.architecture", "aarch64", "'function.architecture' is 'aarch64'"),
    ("gate.metric", "accuracy", "'gate.metric' is 'accuracy'"),
    ("gate.threshold", "0.01", "'gate.threshold' must be a number, not a string"),
    ("gate.threshold", -1, "'gate.threshold' is -1.0"),
    ("gate.fp32_metric", True, "'gate.fp32_metric' must be a number, not a boolean"),
    ("candidates", {"fp32": {}}, "'candidates' must be a list"),
    ("candidates[0].passed", "yes", "'candidates[0].passed' must be a boolean"),
    ("candidates[0].extra", {"accuracy": "high"}, "'candidates[0].extra.accuracy' must be a number"),
    ("golden[0].atol", "1e-5", "'golden[0].atol' must be a number"),
    ("golden[0].rtol", float("nan"), "'golden[0].rtol' must be a finite number"),
    ("golden[0].request", [], "'golden[0].request' must be an object"),
    ("labels", "0123456789", "'labels' must be a list"),
    ("labels", [str(i) for i in range(9)], "'labels' has 9 labels for 10 classes"),
    ("labels", ["0"] * 10, "'labels' must be distinct"),
    ("labels", [*map(str, range(9)), 9], "'labels[9]' must be a string"),
    ("labels", None, "'labels' a classification model needs its class labels"),
    ("text", "tokenizer.json", "'text' must be an object"),
    ("function", ..., "'function' is missing"),
    ("owner", "me", "'owner' is not a known field"),
]


WRONG_TEXT_FIELDS = [
    # the text model's own fields (and labels, which an embedding model must not have)
    ("text.max_length", "256", "'text.max_length' must be an integer"),
    ("text.max_length", 1, "'text.max_length' is 1"),
    ("text.graph_inputs", ["input_ids", "position_ids"], "'text.graph_inputs[1]' is 'position_ids'"),
    ("text.graph_inputs", ["input_ids"], "'text.graph_inputs' must name the signature's inputs"),
    ("text.tokenizer_file", "/etc/passwd", "'text.tokenizer_file'"),
    ("text.tokenizer_sha256", "0" * 63, "'text.tokenizer_sha256' must be a sha256"),
    ("text.lowercase", True, "'text.lowercase' is not a known field"),
    ("labels", ["a", "b", "c", "d"], "'labels' only classification models have labels, not 'embedding'"),
]


@pytest.mark.parametrize(
    ("model", "field", "value", "message"),
    [
        pytest.param(model, *case, id=f"{model}:{case[0]}={case[1]!r}"[:60])
        for model, cases in (("digits", WRONG_FIELDS), ("minilm", WRONG_TEXT_FIELDS))
        for case in cases
    ],
)
def test_each_wrong_field_is_refused_on_load_naming_it(model_copy, model, field, value, message):
    # GIVEN the model's manifest with one field wrong
    model_dir = model_copy(model)
    data = json.loads((model_dir / "manifest.json").read_text())
    _edit(data, field, value)
    _write(model_dir, data)

    # WHEN any reader loads it / THEN it is refused, and the message names the field
    with pytest.raises(ManifestError) as refused:
        load_manifest(model_dir)
    assert message in str(refused.value)


def test_the_written_manifests_load_unchanged(tiny_models):
    # GIVEN the manifests written from the dataclasses / THEN they read back equal (nothing over-strict)
    for model in tiny_models.values():
        assert load_manifest(model.model_dir) == model.manifest
        assert Manifest.from_dict(json.loads(model.manifest.to_json())) == model.manifest


def _assert_load_error(harness: Any, response: dict[str, Any], reason: str) -> None:
    assert response["statusCode"] == 500, response
    assert harness.body(response)["error"] == "ModelLoadError"
    assert "outputs" not in response["body"]
    assert any(d.get("ModelLoadErrors") == [1.0] for d in harness.emf())
    records = [r for r in harness.logs() if r.get("error") == "ModelLoadError"]
    assert records and reason in records[0]["reason"], records


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        pytest.param("limits.allow_non_finite", "false", "'limits.allow_non_finite'", id="string-flag-nan"),
        pytest.param("limits.max_batch", "64", "'limits.max_batch'", id="string-limit-500s"),
        pytest.param("task", "embedding", "'labels' only classification", id="flipped-task"),
    ],
)
def test_the_function_refuses_a_wrong_manifest_with_a_500_and_the_metric(
    harness, serve, model_copy, field, value, named
):
    # GIVEN a function whose manifest has one field wrong in the ways the issue names
    model_dir = model_copy("digits")
    data = json.loads((model_dir / "manifest.json").read_text())
    _edit(data, field, value)
    _write(model_dir, data)
    serve("digits", model_dir=model_dir)

    # WHEN a prediction and a health check are requested
    predict = harness.invoke(load_event("digits-http-api"))
    health = harness.invoke(load_event("digits-health"))

    # THEN both are ModelLoadError 500s with ModelLoadErrors counted, the field named in the log
    _assert_load_error(harness, predict, named)
    assert health["statusCode"] == 500


def test_an_artifact_from_another_onnxruntime_is_refused_unless_allowed(harness, serve, model_copy):
    # GIVEN an artifact the manifest says was built with another onnxruntime than the installed one
    import onnxruntime

    model_dir = model_copy("digits")
    data = json.loads((model_dir / "manifest.json").read_text())
    data["artifact"]["onnxruntime_version"] = "1.31.0"
    assert onnxruntime.__version__ != "1.31.0"
    _write(model_dir, data)
    serve("digits", model_dir=model_dir)

    # WHEN predicting / THEN the load is refused, naming both versions
    _assert_load_error(harness, harness.invoke(load_event("digits-http-api")), "onnxruntime 1.31.0")

    # AND WHEN the function explicitly allows the mismatch / THEN it serves (and logs the mismatch)
    from fnkit_runtime.session import holder

    holder.reset()
    serve("digits", model_dir=model_dir, FNKIT_ALLOW_ONNXRUNTIME_MISMATCH="true")
    response = harness.invoke(load_event("digits-http-api"))
    assert response["statusCode"] == 200, response
    assert any(r.get("message") == "onnxruntime version mismatch allowed" for r in harness.logs())


@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        pytest.param("float32", [[True, 0.5]], id="bool-in-float"),
        pytest.param("float32", [[0.5, False]], id="bool-last-in-float"),
        pytest.param("int64", [[1, 2], [3, True]], id="bool-in-int"),
        pytest.param("uint8", [[[1], [False]]], id="bool-deep-in-uint8"),
        pytest.param("bool", [[True, 1]], id="int-in-bool"),
        pytest.param("bool", [[False, 0.0]], id="float-in-bool"),
        pytest.param("bool", [[1, 0]], id="ints-for-bool"),
        pytest.param("float32", [[True, False]], id="bools-for-float"),
    ],
)
def test_booleans_and_numbers_never_stand_for_each_other(dtype, value):
    spec = TensorSpec("x", dtype, ["batch", *([1] if dtype == "uint8" else []), "n"][: len(_shape(value))])
    with pytest.raises(InputDtypeError):
        decode_tensor(value, spec)


def _shape(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0]
    return shape


@pytest.mark.parametrize(
    ("dtype", "value"),
    [("float32", [[1, 0.5]]), ("int64", [[1, 2]]), ("bool", [[True, False]])],
)
def test_pure_tensors_still_decode(dtype, value):
    array = decode_tensor(value, TensorSpec("x", dtype, ["batch", "n"]))
    assert array.dtype.name == dtype and array.tolist() == value


def test_a_boolean_index_is_a_400_through_the_function(harness, serve):
    # GIVEN the lookup model (an int64 index) / WHEN a direct invocation's index list holds a boolean
    serve("lookup")
    response = harness.invoke({"inputs": [0, True]})
    # THEN it is refused as a dtype error, not read as index 1
    assert response["error"] == "InputDtypeError" and response["status"] == 400, response
    # AND the same list without the boolean is answered
    assert harness.invoke({"inputs": [0, 1]})["outputs"]["rows"][1] == [3.0, 4.0, 5.0]
