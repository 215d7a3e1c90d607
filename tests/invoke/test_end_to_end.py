"""`fnkit invoke` on the shipped models: golden outputs, API events, REPORT lines, EMF, isolation, trim.

These use the session fixture `built_models` (tests/conftest.py), which runs `fnkit build` once.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fnkit_ops.cli import main
from fnkit_ops.invoke import (
    BuiltFunction,
    function_config,
    function_copies,
    locate_built_model,
    parse_report_line,
    run_invocations,
)
from fnkit_ops.invoke.taskroot import assemble_task_root, load_trim_module
from fnkit_runtime.manifest import sha256_file

from .conftest import handler_files

REPO = Path(__file__).resolve().parents[2]
MODELS = ["digits", "minilm"]
API_EVENTS = ["http-api", "rest-api", "function-url"]
OTHER_EVENTS = ["direct", "warmup", "health"]
DEV_ONLY = ["torch", "fnkit_build", "fnkit_ops"]


@pytest.fixture(scope="module", params=MODELS)
def invoke_run(request: pytest.FixtureRequest, invoke_runs: Any) -> Any:
    """One `fnkit invoke --json --emulator fnkit` per model (tests/invoke/conftest.py): every golden
    sample, shipped event and held-out bad request, one warm process."""
    return invoke_runs.get(request.param, "fnkit")


def _by_name(run: Any) -> dict[str, dict[str, Any]]:
    return dict(zip(run.names, run.document["invocations"], strict=True))


def test_invoke_succeeds(invoke_run: Any) -> None:
    assert invoke_run.code == 0
    assert all(inv["ok"] for inv in invoke_run.document["invocations"])


def test_text_answers_carry_token_counts_and_refuse_overflow(invoke_run: Any) -> None:
    # GIVEN the golden requests' answers through awslambdaric
    invocations = _by_name(invoke_run)
    manifest = invoke_run.built.manifest
    answers = [invocations[f"golden-{i}"]["response"] for i in range(len(manifest.golden))]
    if manifest.text is None:
        # THEN a tensor model's answers have no per-item token section and nothing is an overflow
        assert all("items" not in answer for answer in answers)
        assert "overflow" not in invocations
        return
    # THEN each text item reports its token count, truncated exactly when over max_length
    limit = manifest.text.max_length
    for sample, answer in zip(manifest.golden, answers, strict=True):
        assert len(answer["items"]) == answer["batch_size"]
        for item in answer["items"]:
            assert item["truncated"] == (item["tokens"] > limit), item
        assert any(item["truncated"] for item in answer["items"]) == (sample.request.get("truncate") is True)
    # AND the long golden text without "truncate" is a 400 naming item 0, its tokens and the limit
    refused = invocations["overflow"]["response"]
    assert (refused["error"], refused["status"]) == ("TokenLimitError", 400)
    long_item = next(i for a in answers for i in a["items"] if i["truncated"])
    assert f"item 0 has {long_item['tokens']} tokens; the limit is {limit}" in refused["message"]


def test_golden_outputs_are_reproduced(invoke_run: Any) -> None:
    # GIVEN the manifest's golden samples, sent as direct invocations through awslambdaric
    invocations = _by_name(invoke_run)
    manifest = invoke_run.built.manifest
    assert manifest.golden, "the manifest has no golden samples"

    # THEN each response carries the model version and the expected outputs within tolerance
    for index, sample in enumerate(manifest.golden):
        response = invocations[f"golden-{index}"]["response"]
        assert response["model"] == manifest.model
        assert response["model_version"] == manifest.model_version
        assert set(response["outputs"]) == set(sample.outputs)
        for name, expected in sample.outputs.items():
            np.testing.assert_allclose(
                np.asarray(response["outputs"][name], dtype=np.float64),
                np.asarray(expected, dtype=np.float64),
                atol=sample.atol,
                rtol=sample.rtol,
                err_msg=f"{manifest.model} golden-{index} output {name}",
            )


@pytest.mark.parametrize("kind", API_EVENTS)
def test_api_events_get_a_200_proxy_response(invoke_run: Any, kind: str) -> None:
    # WHEN the shipped API Gateway / Function URL event is invoked
    response = _by_name(invoke_run)[kind]["response"]

    # THEN the proxy response is a 200 whose JSON body carries the model version and outputs
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["model_version"] == invoke_run.built.manifest.model_version
    assert set(body["outputs"]) == {spec.name for spec in invoke_run.built.manifest.signature.outputs}


def test_direct_warmup_and_health_events(invoke_run: Any) -> None:
    invocations = _by_name(invoke_run)
    manifest = invoke_run.built.manifest
    assert invocations["direct"]["response"]["model_version"] == manifest.model_version
    assert invocations["warmup"]["response"]["warmup"] is True
    health = invocations["health"]["response"]
    assert health["statusCode"] == 200
    assert json.loads(health["body"])["model_version"] == manifest.model_version


def test_report_lines(invoke_run: Any) -> None:
    # THEN every invocation has a REPORT line with the manifest's memory size; Init only on the first
    invocations = invoke_run.document["invocations"]
    reports = [parse_report_line(inv["report"]) for inv in invocations]
    assert all(r.memory_size_mb == invoke_run.built.manifest.function.memory_mb for r in reports)
    assert reports[0].init_ms is not None
    assert all(r.init_ms is None for r in reports[1:])
    assert all(0 < r.max_memory_used_mb < r.memory_size_mb for r in reports)
    assert len(invoke_run.document["cold_starts"]) == 1


def test_emf_metrics_are_printed(invoke_run: Any) -> None:
    # GIVEN the function's stdout: EMF documents among the JSON log lines
    documents = []
    for entry in invoke_run.document["logs"]:
        try:
            parsed = json.loads(entry["line"])
        except ValueError:
            continue
        if isinstance(parsed, dict) and "_aws" in parsed:
            documents.append(parsed)

    # THEN they name the namespace from the environment, a cold start once, and inference times
    assert documents
    names = [
        m["Name"] for d in documents for block in d["_aws"]["CloudWatchMetrics"] for m in block["Metrics"]
    ]
    assert names.count("ColdStart") == 1
    assert "InferenceTime" in names
    for document in documents:
        for block in document["_aws"]["CloudWatchMetrics"]:
            assert block["Namespace"] == "fnkit"
            assert all(len(dims) <= 30 for dims in block["Dimensions"])


@pytest.fixture(scope="module")
def probe_roots(built_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Per model: an untrimmed and a trimmed task root, each with the probe handler beside fnkit's."""
    roots: dict[str, Any] = {}
    for model in MODELS:
        built = locate_built_model(model, built_models)
        copies = {**function_copies(built.model_dir), **handler_files("fnkit_probe.py")}
        tmp = tmp_path_factory.mktemp(f"probe-{model}")
        full = assemble_task_root(tmp / "full", built.requirements, copies, trim=False)
        trimmed = assemble_task_root(tmp / "trimmed", built.requirements, copies, trim=True)
        roots[model] = (built, full, trimmed)
    yield roots


def _probe_events(built: BuiltFunction) -> list[Any]:
    events: list[Any] = [sample.request for sample in built.manifest.golden]
    for kind in API_EVENTS + OTHER_EVENTS:
        events.append(json.loads((REPO / "events" / f"{built.model}-{kind}.json").read_text()))
    events.append({"inputs": "not what the signature wants"})  # the 400 path loads what errors need
    return events


@pytest.mark.parametrize("model", MODELS)
def test_trim_removes_nothing_the_function_loads(probe_roots: dict[str, Any], model: str) -> None:
    # GIVEN the untrimmed task root and what the trim list would remove from it
    built, full, _ = probe_roots[model]
    planned = load_trim_module().plan(full.path)
    assert planned, "the trim list matches nothing in the real dependency layer"

    # WHEN the real handler serves every kind of event, then reports the files it loaded
    config = dataclasses.replace(function_config(built), handler="fnkit_probe.handler")
    result = run_invocations(full.path, [*_probe_events(built), {"fnkit_probe": "loaded"}], config)
    assert result.ok, result.stdout[-2000:]
    loaded = [Path(f) for f in result.invocations[-1].response()["files"]]

    # THEN none of the loaded files lies under a trimmed path
    trimmed_paths = [p.resolve() for p in planned]
    hits = [str(f) for f in loaded if any(f == t or t in f.parents for t in trimmed_paths)]
    assert hits == []
    assert any(str(full.path.resolve()) in str(f) for f in loaded), "probe saw no task-root file"


@pytest.mark.parametrize("model", MODELS)
def test_trimmed_task_root_is_smaller_and_still_serves(probe_roots: dict[str, Any], model: str) -> None:
    built, full, trimmed = probe_roots[model]

    # THEN trimming removed bytes, and the sizes reconcile
    assert trimmed.trimmed_bytes > 0
    assert trimmed.total_bytes < full.total_bytes
    assert trimmed.deps_bytes == full.deps_bytes
    # (the handler's bytecode embeds its folder's path, so the two totals differ by a few bytes per file)
    assert abs(trimmed.total_bytes + trimmed.trimmed_bytes - full.total_bytes) < 1024

    # AND the real handler on the trimmed tree still reproduces the first golden sample
    config = function_config(built)
    result = run_invocations(trimmed.path, [built.manifest.golden[0].request], config)
    sample = built.manifest.golden[0]
    for name, expected in sample.outputs.items():
        np.testing.assert_allclose(
            np.asarray(result.invocations[0].response()["outputs"][name], dtype=np.float64),
            np.asarray(expected, dtype=np.float64),
            atol=sample.atol,
            rtol=sample.rtol,
        )


@pytest.mark.parametrize("model", MODELS)
def test_function_task_root_cannot_import_dev_packages(probe_roots: dict[str, Any], model: str) -> None:
    # WHEN the probe, beside the real handler, tries torch, the build and the operations
    built, _, trimmed = probe_roots[model]
    config = dataclasses.replace(function_config(built), handler="fnkit_probe.handler")
    names = [*DEV_ONLY, "onnxruntime", "fnkit_runtime"]
    result = run_invocations(trimmed.path, [{"fnkit_probe": "imports", "names": names}], config)

    # THEN only the runtime set is importable
    assert result.invocations[0].response() == {
        **dict.fromkeys(DEV_ONLY, False),
        "onnxruntime": True,
        "fnkit_runtime": True,
    }


@pytest.mark.parametrize("emulator", ["rie", "fnkit"])
def test_init_failure_is_shown_with_exit_code_1(
    built_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    progress_lines: io.StringIO,
    emulator: str,
) -> None:
    # GIVEN a digits build whose artifact is garbage with a manifest that matches it (so only the
    # session creation can notice), and the model loaded at init
    model_dir = tmp_path / "artifacts" / "digits" / "model"
    built = locate_built_model("digits", built_models)
    for source in built.model_dir.iterdir():
        (model_dir / source.name).parent.mkdir(parents=True, exist_ok=True)
        (model_dir / source.name).write_bytes(source.read_bytes())
    artifact = model_dir / built.manifest.artifact.file
    artifact.write_bytes(b"not an onnx model")
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["artifact"].update(sha256=sha256_file(artifact), bytes=artifact.stat().st_size)
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    event = REPO / "events" / "digits-direct.json"

    # WHEN it is invoked
    code = main(
        [
            "invoke",
            "digits",
            "--event",
            str(event),
            "--artifacts",
            str(tmp_path / "artifacts"),
            "--task-root",
            str(tmp_path / "task"),
            "--env",
            "FNKIT_LOAD_AT_INIT=true",
            "--emulator",
            emulator,
            "--quiet",
        ]
    )

    # THEN the handler's load error is reported as the init error, and the exit code is 1
    assert code == 1
    # (stderr: the command's error, or for the emulator's 502 the invocation's error, on the sink)
    err = capsys.readouterr().err + progress_lines.getvalue()
    assert "function init failed: ModelLoadError" in err
    assert "onnxruntime could not load" in err
    if emulator == "rie":  # AWS's emulator answers a failed init with a 502 and Lambda's error object
        assert "the emulator answered HTTP 502 with Lambda's init error object" in err


def test_text_output_shows_responses_reports_and_logs(
    built_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], progress_lines: io.StringIO
) -> None:
    # WHEN one event is sent twice to a warm function through fnkit's Runtime API, without --json
    event = REPO / "events" / "minilm-http-api.json"
    argv = ["invoke", "minilm", "--event", str(event), "--repeat", "2", "--artifacts", str(built_models)]
    argv += ["--emulator", "fnkit"]
    code = main([*argv, "--task-root", str(tmp_path / "task")])

    # THEN stdout holds each response and REPORT line (Init on the first only) and the cold/warm summary
    out = capsys.readouterr().out
    err = progress_lines.getvalue()
    assert code == 0
    reports = [parse_report_line(line) for line in out.splitlines() if line.startswith("REPORT ")]
    assert [r.init_ms is not None for r in reports] == [True, False]
    assert out.count('"statusCode": 200') == 2
    assert "cold start: init" in out and "warm: median" in out
    # AND the progress sink (stderr) holds the task root's size and the function's own log lines
    assert "task root:" in err
    assert "  | " in err
