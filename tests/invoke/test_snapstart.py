"""SnapStart's lifecycle under the real awslambdaric and fnkit's local Runtime API (`--snapstart`)."""

from __future__ import annotations

import dataclasses
import http.client
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fnkit_ops.cli import main
from fnkit_ops.invoke import FunctionConfig, RuntimeApiServer, assemble_task_root, run_invocations
from fnkit_ops.invoke.exceptions import FunctionInitError
from fnkit_ops.invoke.function import locate_built_model
from fnkit_runtime.manifest import Manifest, write_atomic

from .conftest import handler_files

REPO = Path(__file__).resolve().parents[2]
BASE = "/2018-06-01/runtime"


def _request(api: RuntimeApiServer, method: str, path: str, body: bytes = b"") -> int:
    conn = http.client.HTTPConnection(api.address, timeout=10)
    try:
        conn.request(method, path, body=body or None, headers={"Lambda-Runtime-Function-Error-Type": "X"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_runtime_api_answers_restore_next_and_records_restore_errors() -> None:
    with RuntimeApiServer("arn:aws:lambda:us-east-1:123456789012:function:f", next_wait_s=1.0) as api:
        # WHEN the runtime asks for the restore, THEN it goes on at once and the moment is recorded
        assert api.restore_next_at is None
        assert _request(api, "GET", f"{BASE}/restore/next") == 200
        assert api.restore_next_at is not None
        # WHEN an after-restore hook fails, THEN its error is recorded
        assert _request(api, "POST", f"{BASE}/restore/error", b'{"errorType": "E"}') == 202
        assert api.posted_error("restore") == (b'{"errorType": "E"}', "X")


@pytest.fixture(scope="module")
def probe_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("snap") / "task"
    return assemble_task_root(dest, [], handler_files("snap_probe.py")).path


def _probe_config(**env: str) -> FunctionConfig:
    return FunctionConfig(
        function_name="fnkit-snap", memory_mb=512, handler="snap_probe.handler", env=env, snapstart=True
    )


def test_hooks_run_in_lambdas_order_around_the_restore(probe_root: Path) -> None:
    # WHEN a SnapStart function is started and invoked twice
    run = run_invocations(probe_root, [{}, {}], _probe_config())
    # THEN init, before-snapshot, (restore), after-restore, then the invocations, each hook once
    first, second = (r.response() for r in run.invocations)
    assert first == {
        "events": ["init", "before-snapshot", "after-restore", "invoke"],
        "init_type": "snap-start",
    }
    assert second["events"][-2:] == ["invoke", "invoke"]
    # AND the snapshot point came after the process started and before the first invocation
    (cold,) = run.cold_starts
    assert cold.snapshot_ms is not None and 0 < cold.snapshot_ms <= cold.init_ms


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        pytest.param("before", "SnapStart before-snapshot hook failed", id="before-snapshot"),
        pytest.param("after", "SnapStart after-restore hook failed", id="after-restore"),
    ],
)
def test_a_failing_hook_is_reported_as_the_init_failure(probe_root: Path, hook: str, message: str) -> None:
    with pytest.raises(FunctionInitError, match=message) as failure:
        run_invocations(probe_root, [{}], _probe_config(SNAP_PROBE_FAIL=hook))
    assert "failed on purpose" in str(failure.value)


def _invoke_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(argv)
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_fnkit_snapstart_loads_before_the_snapshot_and_the_first_request_loads_nothing(
    built_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN digits is invoked under SnapStart's lifecycle with a direct and an API event
    events = [REPO / "events" / "digits-direct.json", REPO / "events" / "digits-http-api.json"]
    argv = ["invoke", "digits", "--snapstart", "--json", "--artifacts", str(built_models)]
    argv += ["--task-root", str(tmp_path / "task")]
    for event in events:
        argv += ["--event", str(event)]
    code, document = _invoke_json(argv, capsys)
    # THEN both are answered, and the cold start names its snapshot point
    assert code == 0
    (cold,) = document["cold_starts"]
    assert 0 < cold["snapshot_ms"] <= cold["init_ms"]
    assert [i["ok"] for i in document["invocations"]] == [True, True]
    # AND the logs show the goldens checked before the snapshot, then the restore, then the requests
    records = [json.loads(line["line"]) for line in document["logs"] if line["line"].startswith("{")]
    messages = [r.get("message") for r in records]
    first_emf = next(i for i, r in enumerate(records) if "_aws" in r)
    assert messages.index("snapshot ready") < messages.index("restored from a SnapStart snapshot") < first_emf
    assert next(r for r in records if r.get("message") == "restored from a SnapStart snapshot")[
        "model_loaded"
    ]
    # AND the first request's metrics hold no model load, one restore and the cold start
    emf = [r for r in records if "_aws" in r]
    assert all("ModelLoadTime" not in d for d in emf)
    assert [d.get("SnapStartRestores") for d in emf if "Requests" in d] == [[1.0], None]
    assert any(d.get("ColdStart") == [1.0] for d in emf)


def test_fnkit_snapstart_with_a_wrong_golden_fails_the_publication(
    built_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a digits build whose first golden output no longer matches the model
    built = locate_built_model("digits", built_models)
    model_dir = tmp_path / "artifacts" / "digits" / "model"
    model_dir.mkdir(parents=True)
    for source in built.model_dir.iterdir():
        (model_dir / source.name).write_bytes(source.read_bytes())
    data = json.loads((model_dir / "manifest.json").read_text())
    golden = data["golden"][0]
    golden["outputs"] = {k: (np.asarray(v) * -1.0).tolist() for k, v in golden["outputs"].items()}
    write_atomic(model_dir / "manifest.json", Manifest.from_dict(data).to_json().encode())
    argv = ["invoke", "digits", "--snapstart", "--quiet", "--artifacts", str(tmp_path / "artifacts")]
    argv += ["--task-root", str(tmp_path / "task"), "--event", str(REPO / "events" / "digits-direct.json")]
    # WHEN it is invoked under SnapStart, THEN init fails as Lambda would fail the version's publication
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "before-snapshot hook failed" in err and "SnapshotCheckError" in err and "golden sample 0" in err


def test_snapstart_config_sets_the_init_type_and_load_at_init() -> None:
    from fnkit_ops.invoke.process import lambda_environment

    config = dataclasses.replace(_probe_config(), env={})
    env = lambda_environment(Path("/var/task"), "127.0.0.1:1", config)
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "snap-start"
    assert env["FNKIT_LOAD_AT_INIT"] == "true"
    plain = lambda_environment(Path("/var/task"), "127.0.0.1:1", dataclasses.replace(config, snapstart=False))
    assert plain["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand" and "FNKIT_LOAD_AT_INIT" not in plain


def test_snapstart_under_aws_emulator_is_a_usage_error(
    built_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # AWS's Runtime Interface Emulator has no /restore/next: --snapstart needs fnkit's Runtime API
    argv = ["invoke", "digits", "--snapstart", "--emulator", "rie", "--artifacts", str(built_models)]
    assert main([*argv, "--event", str(REPO / "events" / "digits-direct.json")]) == 2
    assert "--snapstart runs on fnkit's Runtime API" in capsys.readouterr().err
