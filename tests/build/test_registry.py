"""Registry validation: every bad entry is a RegistryError naming the model and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from fnkit_build.exceptions import RegistryError, UnknownModelError
from fnkit_build.registry import load_registry

from tests.build.conftest import float32_tensors

VALID = """
[models.m]
factory = "pkg.mod:make"
task = "classification"
labels = ["a", "b"]
quantization = ["int8-dynamic"]
tolerance = { atol = 1e-4, rtol = 1e-3 }
gate = { metric = "accuracy_drop", threshold = 0.005 }
function = { memory_mb = 1024, architecture = "x86_64" }

""" + float32_tensors("m", {"x": (3,)}, {"logits": (2,)})


def _edit(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new)


TEXT = """
[models.m]
factory = "pkg.mod:make"
task = "embedding"
tolerance = {{ atol = 1e-4, rtol = 1e-3 }}
gate = {{ metric = "cosine_mean", threshold = 0.99 }}
function = {{ memory_mb = 1024, architecture = "x86_64" }}
text = {{ tokenizer_file = {tokenizer}, max_length = 8, graph_inputs = {graph_inputs} }}

[models.m.inputs.input_ids]
dtype = {dtype}
shape = {shape}

[models.m.outputs.embedding]
dtype = "float32"
shape = ["batch", 4]
"""


def _text(
    tokenizer: str = '"tokenizer.json"',
    graph_inputs: str = '["input_ids"]',
    dtype: str = '"int64"',
    shape: str = '["batch", "sequence"]',
) -> str:
    return TEXT.format(tokenizer=tokenizer, graph_inputs=graph_inputs, dtype=dtype, shape=shape)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("[models.m\nfactory=", "is not valid TOML", id="corrupt-toml"),
        pytest.param("title = 'x'\n", "unknown top-level table 'title'", id="unknown-top-level"),
        pytest.param("[other]\n", "unknown top-level table", id="no-models-table"),
        pytest.param(
            _edit('factory = "pkg.mod:make"\n', ""),
            "model 'm': field 'factory': is required",
            id="no-factory",
        ),
        pytest.param(_edit('"pkg.mod:make"', '"pkg.mod.make"'), "field 'factory'", id="factory-no-colon"),
        pytest.param(_edit('"classification"', '"regression"'), "field 'task': 'regression'", id="bad-task"),
        pytest.param(
            _edit('dtype = "float32"\nshape = ["batch", 3]', 'dtype = "float128"\nshape = ["batch", 3]'),
            "field 'inputs.x.dtype'",
            id="bad-dtype",
        ),
        pytest.param(_edit('["batch", 3]', '[3, "batch"]'), "field 'inputs.x.shape'", id="batch-not-first"),
        pytest.param(_edit('["batch", 3]', '["batch", 0]'), "field 'inputs.x.shape'", id="zero-dim"),
        pytest.param(
            _edit('["batch", 3]', '["batch", "not a name"]'), "field 'inputs.x.shape'", id="axis-not-a-name"
        ),
        pytest.param(
            _edit('["int8-dynamic"]', '["int4"]'), "field 'quantization': 'int4'", id="unknown-candidate"
        ),
        pytest.param(
            _edit('["int8-dynamic"]', '["int8-dynamic", "int8-dynamic"]'), "twice", id="duplicate-candidate"
        ),
        pytest.param(
            _edit("quantization =", "quantisation ="),
            "field 'quantisation': is not a known field",
            id="typo-key",
        ),
        pytest.param(
            _edit("threshold = 0.005", "threshold = 2"), "field 'gate.threshold'", id="threshold-range"
        ),
        pytest.param(
            _edit("threshold = 0.005", 'threshold = "low"'),
            "field 'gate.threshold': must be",
            id="threshold-type",
        ),
        pytest.param(
            _edit("threshold = 0.005", "threshold = 0.005, extra = 1"), "field 'gate.extra'", id="gate-typo"
        ),
        pytest.param(
            _edit('task = "classification"\nlabels = ["a", "b"]', 'task = "embedding"'),
            "field 'gate.metric': accuracy_drop needs task",
            id="metric-task-mismatch",
        ),
        pytest.param(
            _edit("memory_mb = 1024", "memory_mb = 64"), "field 'function.memory_mb'", id="memory-too-small"
        ),
        pytest.param(_edit('"x86_64"', '"ppc64le"'), "field 'function.architecture'", id="bad-architecture"),
        pytest.param(_edit('["a", "b"]', '["a", "b", "c"]'), "field 'labels': 3 labels", id="label-count"),
        pytest.param(
            _edit('labels = ["a", "b"]\n', ""), "field 'labels'", id="classification-without-labels"
        ),
        pytest.param(_edit("atol = 1e-4", "atol = -1"), "field 'tolerance.atol'", id="negative-atol"),
        pytest.param(
            VALID + '\n[models.m.text]\ntokenizer_file = "t.json"\nmax_length = 8\ngraph_inputs = ["ids"]\n',
            "field 'text.graph_inputs'",
            id="text-inputs-mismatch",
        ),
        pytest.param(
            VALID.replace("[models.m.outputs.logits]", "[models.m.outputs.x]"),
            "field 'outputs.x': has the name of an input",
            id="output-named-like-input",
        ),
        pytest.param(
            _edit('["batch", 3]', '["batch", "sequence", "sequence"]'),
            "field 'inputs.x.shape'",
            id="axis-named-twice",
        ),
        pytest.param(
            _text(graph_inputs='["ids"]'), "field 'text.graph_inputs': ['ids']", id="text-input-unknown"
        ),
        pytest.param(
            _text(shape='["batch", 16]'), "field 'inputs.input_ids.shape'", id="text-input-fixed-length"
        ),
        pytest.param(_text(dtype='"float32"'), "field 'inputs.input_ids.dtype'", id="text-input-float"),
        pytest.param(
            _text(tokenizer='"model.onnx"'), "field 'text.tokenizer_file'", id="tokenizer-overwrites-artifact"
        ),
        pytest.param(
            _text(tokenizer='"manifest.json"'),
            "field 'text.tokenizer_file'",
            id="tokenizer-overwrites-manifest",
        ),
        pytest.param(_text(tokenizer='"../t.json"'), "field 'text.tokenizer_file'", id="tokenizer-path"),
        pytest.param(_text(tokenizer='""'), "field 'text.tokenizer_file'", id="tokenizer-empty"),
        pytest.param(
            VALID.replace("[models.m.outputs.logits]\n", "[models.m.outputs.logits]\nrank = 2\n"),
            "field 'outputs.logits.rank'",
            id="tensor-typo",
        ),
    ],
)
def test_bad_registry_names_model_and_field(tmp_path: Path, text: str, expected: str) -> None:
    # GIVEN a registry file with one defect
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")

    # WHEN it is loaded THEN one RegistryError names the problem
    with pytest.raises(RegistryError, match="registry") as info:
        load_registry(path)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="does not exist"):
        load_registry(tmp_path / "nope.toml")


def test_valid_registry_round_trips_into_dataclasses(tmp_path: Path) -> None:
    # GIVEN a valid registry
    path = tmp_path / "models.toml"
    path.write_text(VALID, encoding="utf-8")

    # WHEN loaded
    spec = load_registry(path).models["m"]

    # THEN every field is typed and defaults are filled
    assert spec.inputs[0].dynamic_axes == {0: "batch"}
    assert spec.gate.passes(0.004) and not spec.gate.passes(0.006)
    assert spec.quantization == ("int8-dynamic",)
    assert spec.labels == ("a", "b")
    assert spec.limits.max_batch == 64
    assert spec.source == path


def test_unknown_model_lists_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(VALID, encoding="utf-8")
    with pytest.raises(UnknownModelError, match=r"unknown model 'mm'.*declares m"):
        load_registry(path).select(["mm"])


def test_shipped_registry_is_valid(repo_root: Path) -> None:
    registry = load_registry(repo_root / "models.toml")
    assert set(registry.models) >= {"digits", "minilm"}
    minilm = registry.models["minilm"]
    assert minilm.gate.same_nearest_neighbour and minilm.gate.max_size_ratio == 0.30
    assert {t.name: t.shape for t in minilm.inputs}["input_ids"] == ["batch", "sequence"]


def test_valid_text_registry_loads(tmp_path: Path) -> None:
    # GIVEN the text entry the bad-text cases above each break in one place
    path = tmp_path / "models.toml"
    path.write_text(_text(), encoding="utf-8")

    # WHEN loaded THEN its tokenizer and token input are as declared
    spec = load_registry(path).models["m"]
    assert spec.text is not None and spec.text.tokenizer_file == "tokenizer.json"
    assert spec.inputs[0].shape == ["batch", "sequence"]


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        pytest.param(
            'function = { memory_mb = 1024, architecture = "x86_64", snapstart = true, '
            "provisioned_concurrency = 2 }",
            "SnapStart cannot be combined with provisioned_concurrency",
            id="snapstart-with-provisioned-concurrency",
        ),
        pytest.param(
            'function = { memory_mb = 1024, architecture = "x86_64", snapstart = "yes" }',
            "field 'function.snapstart'",
            id="snapstart-not-a-boolean",
        ),
    ],
)
def test_snapstart_conflicts_are_registry_errors(tmp_path: Path, function: str, expected: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        _edit('function = { memory_mb = 1024, architecture = "x86_64" }', function), encoding="utf-8"
    )
    with pytest.raises(RegistryError, match=expected):
        load_registry(path)


def test_snapstart_needs_a_python_312_base_image(tmp_path: Path) -> None:
    from fnkit_build.registry import _Entry
    from fnkit_build.stack import stack_spec

    table = {"function": {"memory_mb": 1024, "architecture": "x86_64", "snapstart": True}}
    entry = _Entry(tmp_path / "models.toml", "m", table)
    assert stack_spec(entry).snapstart and stack_spec(entry).load_at_init
    with pytest.raises(RegistryError, match=r"SnapStart needs Python 3\.12"):
        stack_spec(entry, python=(3, 11))


def test_snapstart_renders_published_versions_and_load_at_init(tmp_path: Path) -> None:
    from fnkit_ops.render.template import function

    # GIVEN a model with SnapStart on, and the same without
    path = tmp_path / "models.toml"
    path.write_text(
        _edit('architecture = "x86_64" }', 'architecture = "x86_64", snapstart = true }'), encoding="utf-8"
    )
    plain_path = tmp_path / "plain.toml"
    plain_path.write_text(VALID, encoding="utf-8")
    # WHEN their functions are rendered
    snap = function(load_registry(path).models["m"])["Properties"]
    plain = function(load_registry(plain_path).models["m"])["Properties"]
    # THEN SnapStart applies to published versions and the model loads at init; not without it
    assert snap["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert snap["Environment"]["Variables"]["FNKIT_LOAD_AT_INIT"] == "true"
    assert "SnapStart" not in plain and "FNKIT_LOAD_AT_INIT" not in plain["Environment"]["Variables"]
