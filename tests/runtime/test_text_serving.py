"""Text requests: explicit length rules (reject / truncate) and length-aware execution, in process."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fnkit_ops.events import load_event
from fnkit_runtime.batching import Execution, plan_calls, run_items, split_rows, stack_rows
from fnkit_runtime.exceptions import ManifestError
from fnkit_runtime.manifest import EXECUTIONS, Manifest, write_atomic

LONG = " ".join(["word"] * 30)
"""32 tokens with [CLS] and [SEP]: over the tiny text model's limit of 16."""
MIXED = ["short", LONG[:40], "A man is eating food.", "hi", "The new movie is awesome.", "ok ok"]


def _post(body: Any) -> dict[str, Any]:
    event = load_event("minilm-http-api")
    event["body"] = json.dumps(body)
    return event


def _serve_with(serve: Any, model_copy: Any, **changes: Any) -> Path:
    """Serve a copy of the tiny text model whose manifest has `changes` (text.* via `text=`)."""
    folder = model_copy("minilm")
    manifest = Manifest.from_dict(json.loads((folder / "manifest.json").read_text()))
    changed = dataclasses.replace(manifest, **changes)
    write_atomic(folder / "manifest.json", changed.to_json().encode("utf-8"))
    serve("minilm", model_dir=folder)
    return folder


def test_an_item_over_the_limit_is_a_400_naming_its_index_tokens_and_the_limit(harness, serve):
    # GIVEN the tiny text model (on_overflow reject)
    limit = serve("minilm").manifest.text.max_length

    # WHEN the second item of a request has 32 tokens
    response = harness.invoke(_post({"inputs": ["short", LONG]}))

    # THEN the answer is a 400 that names item 1, its 32 tokens and the limit
    assert response["statusCode"] == 400, response
    body = harness.body(response)
    assert body["error"] == "TokenLimitError"
    assert "item 1 has 32 tokens" in body["message"]
    assert f"the limit is {limit}" in body["message"]


def test_truncate_true_flags_each_truncated_item_with_its_original_token_count(harness, serve):
    # GIVEN the tiny text model
    model = serve("minilm")

    # WHEN a request asks for truncation
    body = harness.invoke({"inputs": [LONG, "short"], "truncate": True})

    # THEN the long item embeds as its truncated tokens, and the response says so per item
    np.testing.assert_allclose(body["outputs"]["embedding"], model.expected([LONG, "short"]), atol=1e-5)
    assert body["items"] == [{"tokens": 32, "truncated": True}, {"tokens": 3, "truncated": False}]


def test_a_truncating_model_truncates_unless_the_request_says_false(harness, serve, model_copy, tiny_models):
    # GIVEN a manifest whose text.on_overflow is truncate
    text = dataclasses.replace(tiny_models["minilm"].manifest.text, on_overflow="truncate")
    _serve_with(serve, model_copy, text=text)

    # WHEN a long item comes without "truncate", THEN it is truncated and flagged
    body = harness.invoke({"inputs": [LONG]})
    assert body["items"] == [{"tokens": 32, "truncated": True}]

    # WHEN the request says "truncate": false, THEN it is refused
    response = harness.invoke(_post({"inputs": [LONG], "truncate": False}))
    assert response["statusCode"] == 400
    assert "item 0 has 32 tokens" in harness.body(response)["message"]


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        pytest.param("minilm", {"inputs": ["a"], "truncate": "yes"}, '"truncate" must be', id="not-bool"),
        pytest.param("digits", None, "applies to text models only", id="tensor-model"),
    ],
)
def test_bad_truncate_is_a_400(harness, serve, model, body, message):
    serve(model)
    if body is None:
        body = {**load_event("digits-direct"), "truncate": True}
    event = load_event(f"{model}-http-api")
    event["body"] = json.dumps(body)
    response = harness.invoke(event)
    assert response["statusCode"] == 400, response
    assert message in harness.body(response)["message"]


@pytest.mark.parametrize("execution", EXECUTIONS)
def test_every_execution_answers_in_request_order_like_one_by_one(
    harness, serve, model_copy, tiny_models, execution
):
    # GIVEN the tiny text model served with each execution
    model = tiny_models["minilm"]
    _serve_with(serve, model_copy, execution=execution)

    # WHEN a mixed-length request is answered, and each of its items alone
    together = harness.invoke({"inputs": MIXED})["outputs"]["embedding"]
    alone = [harness.invoke({"inputs": [text]})["outputs"]["embedding"][0] for text in MIXED]

    # THEN the rows come back in request order and equal the items alone
    np.testing.assert_allclose(together, alone, atol=1e-6)
    np.testing.assert_allclose(together, model.expected(MIXED), atol=1e-5)


def test_length_buckets_group_equal_lengths_and_keep_first_appearance_order():
    # GIVEN token lengths of a mixed request
    lengths = [5, 9, 5, 3, 9, 5]

    # THEN buckets hold the items of one length; per_item and batch are the extremes
    assert plan_calls(lengths, Execution.LENGTH_BUCKETS) == [[0, 2, 5], [1, 4], [3]]
    assert plan_calls(lengths, Execution.PER_ITEM) == [[i] for i in range(6)]
    assert plan_calls(lengths, Execution.BATCH) == [list(range(6))]


def test_run_items_puts_outputs_back_in_request_order_and_pads_only_for_batch():
    # GIVEN rows of different lengths and a runner that records its calls' shapes
    rows = [{"ids": np.full((1, n), n, dtype=np.int64)} for n in (4, 2, 4, 3)]
    calls: list[tuple[int, ...]] = []

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        calls.append(feeds["ids"].shape)
        return {"out": feeds["ids"].sum(axis=1, keepdims=True)}

    # WHEN run by length buckets, THEN no call is padded and each output is its own row's
    out = run_items(run, rows, [4, 2, 4, 3], Execution.LENGTH_BUCKETS)
    assert out["out"].ravel().tolist() == [16, 4, 16, 9]
    assert calls == [(2, 4), (1, 2), (1, 3)]

    # WHEN run as one batch, THEN it is padded to the longest with the pad value
    calls.clear()
    out = run_items(run, rows, [4, 2, 4, 3], Execution.BATCH, {"ids": 0})
    assert calls == [(4, 4)]
    assert out["out"].ravel().tolist() == [16, 4, 16, 9]


def test_split_and_stack_rows_round_trip():
    feeds = {"a": np.arange(12).reshape(3, 4), "b": np.ones((3, 4), dtype=np.int64)}
    rows = split_rows(feeds, [4, 2, 3])
    assert [row["a"].shape for row in rows] == [(1, 4), (1, 2), (1, 3)]
    stacked = stack_rows(rows, {"a": -1, "b": 0})
    assert stacked["a"].tolist() == [[0, 1, 2, 3], [4, 5, -1, -1], [8, 9, 10, -1]]
    assert stacked["b"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]]


def _manifest_data(tiny_models: Any) -> dict[str, Any]:
    return json.loads(tiny_models["minilm"].manifest.to_json())


def test_a_schema_2_manifest_is_refused_with_the_versions(tiny_models):
    # GIVEN a manifest written by a schema-2 build (no execution, no on_overflow)
    data = _manifest_data(tiny_models)
    data["schema_version"] = 2
    del data["execution"]
    del data["text"]["on_overflow"]

    # THEN the runtime refuses it, naming both versions, instead of guessing how to run it
    with pytest.raises(ManifestError, match=r"schema_version 2 is not supported.*reads version 3"):
        Manifest.from_dict(data)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        pytest.param(("execution",), "sorted", "field 'execution' is 'sorted'", id="execution"),
        pytest.param(("text", "on_overflow"), "drop", "field 'text.on_overflow' is 'drop'", id="on-overflow"),
    ],
)
def test_manifest_rejects_unknown_execution_and_overflow_rules(tiny_models, path, value, message):
    data = _manifest_data(tiny_models)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ManifestError, match=message):
        Manifest.from_dict(data)


def test_health_shows_the_token_limit_and_overflow_rule(tiny_models):
    public = tiny_models["minilm"].manifest.public()
    assert public["text"] == {"max_length": 16, "on_overflow": "reject"}
    assert tiny_models["digits"].manifest.public()["text"] is None


def test_the_runtime_runs_every_execution_the_manifest_can_name():
    assert {execution.value for execution in Execution} == set(EXECUTIONS)
