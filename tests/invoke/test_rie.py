"""`fnkit invoke` under AWS's Runtime Interface Emulator (the `sam local invoke` emulator, no Docker).

Every model's rendered events, golden samples and held-out bad requests go through the RIE and get the
same responses as through fnkit's own Runtime API (one session per model and emulator, shared with
test_end_to_end.py); the emulator's error shapes (handler error, runtime exit, timeout, init error)
are reported; ports, shutdown and a missing binary are handled.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fnkit_ops.cli import main
from fnkit_ops.invoke import FunctionConfig, TaskRoot, invoke_all, parse_report_line
from fnkit_ops.invoke import rie as rie_module
from fnkit_ops.invoke.cli import describe_failure
from fnkit_ops.invoke.exceptions import EmulatorUnavailableError
from fnkit_ops.invoke.rie import RieFunction
from fnkit_ops.invoke.rie_binary import RieBinary
from fnkit_runtime.manifest import sha256_file

from .conftest import alive, ctrl_c_during, normalized

REPO = Path(__file__).resolve().parents[2]
MODELS = ["digits", "minilm"]


@pytest.fixture(scope="module", params=MODELS)
def runs(request: pytest.FixtureRequest, invoke_runs: Any, rie_binary: RieBinary) -> tuple[Any, Any]:
    """(RIE run, fnkit run) of the same events for one model."""
    return invoke_runs.get(request.param, "rie"), invoke_runs.get(request.param, "fnkit")


def test_rie_binary_is_the_pinned_one(rie_binary: RieBinary) -> None:
    # THEN the cached emulator is the SAM CLI wheel's, as recorded beside it, and executable
    record = json.loads(rie_binary.path.with_name(f"{rie_binary.path.name}.json").read_text())
    assert sha256_file(rie_binary.path) == rie_binary.sha256 == record["sha256"]
    assert record["source"] == "aws-sam-cli==1.170.0:samcli/local/rapid/aws-lambda-rie-x86_64"
    assert os.access(rie_binary.path, os.X_OK)


def test_every_event_gets_the_same_response_as_through_fnkits_runtime_api(runs: tuple[Any, Any]) -> None:
    # GIVEN the same goldens, shipped events and bad requests sent through the RIE and through fnkit's API
    rie, fnkit = runs
    assert rie.names == fnkit.names
    assert rie.document["emulator"]["name"] == "rie" and fnkit.document["emulator"]["name"] == "fnkit"

    # THEN both succeed and every response is the same (per-invocation ids aside)
    assert rie.code == fnkit.code == 0
    pairs = zip(rie.document["invocations"], fnkit.document["invocations"], strict=True)
    for name, (under_rie, under_fnkit) in zip(rie.names, pairs, strict=True):
        assert under_rie["ok"] and under_fnkit["ok"], name
        assert normalized(under_rie["response"]) == normalized(under_fnkit["response"]), name


def test_rie_answers_are_real_answers(runs: tuple[Any, Any]) -> None:
    # GIVEN the RIE run
    rie, _ = runs
    by_name = dict(zip(rie.names, rie.document["invocations"], strict=True))
    manifest = rie.built.manifest

    # THEN the goldens are reproduced, the API events are 200s and every bad request a 4xx
    for index, sample in enumerate(manifest.golden):
        outputs = by_name[f"golden-{index}"]["response"]["outputs"]
        for name, expected in sample.outputs.items():
            np.testing.assert_allclose(
                np.asarray(outputs[name], dtype=np.float64),
                np.asarray(expected, dtype=np.float64),
                atol=sample.atol,
                rtol=sample.rtol,
            )
    for kind in ("http-api", "rest-api", "function-url", "health"):
        assert by_name[kind]["response"]["statusCode"] == 200, kind
    statuses = {n: inv["response"].get("statusCode") for n, inv in by_name.items() if n.startswith("bad-")}
    assert all(400 <= status < 500 for name, status in statuses.items() if name != "bad-direct"), statuses
    assert "error" in by_name["bad-direct"]["response"]


def test_rie_report_lines_are_the_emulators(runs: tuple[Any, Any]) -> None:
    # THEN each invocation carries the RIE's own REPORT line: its request id, the manifest's memory
    # size, and (as the RIE reports it) Max Memory Used equal to the memory size, not a measurement
    rie, _ = runs
    memory = rie.built.manifest.function.memory_mb
    reports = [parse_report_line(inv["report"]) for inv in rie.document["invocations"]]
    assert [r.request_id for r in reports] == [inv["request_id"] for inv in rie.document["invocations"]]
    assert len({r.request_id for r in reports}) == len(reports)
    assert all(r.memory_size_mb == r.max_memory_used_mb == memory for r in reports)
    # AND the first invocation initialised the function (the emulator's INIT REPORT), the others did not
    cold = [inv["cold"] for inv in rie.document["invocations"]]
    assert cold == [True] + [False] * (len(cold) - 1)
    logs = "\n".join(entry["line"] for entry in rie.document["logs"])
    assert "(rapid) INIT REPORT" in logs and logs.count("END RequestId: ") == len(reports)


def test_rie_gets_the_template_environment(runs: tuple[Any, Any]) -> None:
    # THEN the function saw the rendered template's Environment (service name from AWS::StackName
    # resolved as `sam local invoke` does, the namespace) in its EMF output
    rie, _ = runs
    documents = [json.loads(e["line"]) for e in rie.document["logs"] if e["line"].startswith('{"_aws"')]
    assert documents
    assert {d["service"] for d in documents} == {"local"}
    assert {b["Namespace"] for d in documents for b in d["_aws"]["CloudWatchMetrics"]} == {"fnkit"}


# --- the emulator's error shapes, on a standard-library handler -------------------------------
@pytest.fixture(scope="module")
def trivial_under_rie(rie_binary: RieBinary, trivial_root: TaskRoot) -> Any:
    """One emulator session: a handler error, a runtime exit, a timeout (1 s), then a normal event."""
    config = FunctionConfig(
        function_name="fnkit-trivial",
        memory_mb=512,
        handler="trivial.handler",
        env={"FNKIT_MARK": "from-the-template"},
    )
    names = ["TIMEOUT_ENV", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_NAME", "FNKIT_MARK"]
    names[0] = rie_module.TIMEOUT_ENV
    events = [
        {"raise": "boom"},
        {"exit": 3},
        {"sleep": 5},
        {"echo": 1, "env": names, "imports": ["fnkit_ops"]},
    ]
    return invoke_all(RieFunction(rie_binary, trivial_root.path, config, timeout_s=1), events)


def test_handler_error_is_lambdas_error_object(trivial_under_rie: Any) -> None:
    raised = trivial_under_rie.invocations[0]
    assert not raised.ok and raised.error_type == "ValueError" and raised.http_status == 200
    assert raised.response()["errorMessage"] == "boom"
    assert describe_failure(raised) == "ValueError: boom"


def test_runtime_exit_is_a_502_exit_error(trivial_under_rie: Any) -> None:
    exited = trivial_under_rie.invocations[1]
    assert not exited.ok and exited.http_status == 502
    assert exited.error_type == "Runtime.ExitError"
    assert "exit status 3" in describe_failure(exited)


def test_timeout_is_the_emulators_text_and_the_next_invocation_is_fresh(trivial_under_rie: Any) -> None:
    # GIVEN AWS_LAMBDA_FUNCTION_TIMEOUT=1 and a handler sleeping 5 s
    timed_out, after = trivial_under_rie.invocations[2:]

    # THEN the emulator's own answer is reported as a timeout, in one line
    assert not timed_out.ok and timed_out.error_type == "Sandbox.Timedout"
    assert timed_out.body == b"Task timed out after 1.00 seconds"
    assert describe_failure(timed_out) == "Sandbox.Timedout: Task timed out after 1.00 seconds"
    assert parse_report_line(timed_out.report_line()).duration_ms >= 1000
    # AND the next event gets a new runtime (cold) with the function's configuration
    response = after.response()
    assert after.ok and after.cold and response["invocations"] == 1
    assert response["env"] == {
        rie_module.TIMEOUT_ENV: "1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_NAME": "fnkit-trivial",
        "FNKIT_MARK": "from-the-template",
    }
    assert response["importable"] == {"fnkit_ops": False}
    assert response["flags"] == {"no_site": 1, "no_user_site": 1}


# --- ports, shutdown, missing binary (arm64: test_rie_arm64.py) --------------------------------------------
@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def test_a_busy_port_is_chosen_around(
    rie_binary: RieBinary,
    trivial_root: TaskRoot,
    trivial_config: FunctionConfig,
    busy_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a port chooser whose first pick is a port another process holds
    real = rie_module._free_port
    picks = iter([busy_port])
    monkeypatch.setattr(rie_module, "_free_port", lambda: next(picks, None) or real())

    # WHEN the emulator starts, THEN it ends up on another port and serves
    with RieFunction(rie_binary, trivial_root.path, trivial_config) as fn:
        assert fn.process is not None and fn.process.port != busy_port
        assert fn.invoke({"echo": "here"}).response()["echo"] == "here"
    assert "address already in use" in fn.log.text().lower()


def test_the_emulator_is_stopped_on_ctrl_c(
    rie_binary: RieBinary, trivial_root: TaskRoot, trivial_config: FunctionConfig
) -> None:
    # GIVEN a SIGINT arriving while an invocation is in flight
    fn = RieFunction(rie_binary, trivial_root.path, trivial_config)
    pids = ctrl_c_during(fn, {"sleep": 120})

    # THEN the emulator and the runtime it started are gone
    assert len(pids) >= 2, "the emulator had not started its runtime"
    assert not any(alive(pid) for pid in pids)
    assert fn.process is None


def test_no_binary_reachable_is_one_line_and_names_the_fallback(
    built_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an empty cache and no package index (offline)
    monkeypatch.setenv("FNKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    event = str(REPO / "events" / "digits-direct.json")

    # WHEN fnkit invoke runs with the default emulator
    code = main(["invoke", "digits", "--event", event, "--artifacts", str(built_models), "--quiet"])

    # THEN it says so in one line, exit code 2, pointing at --emulator fnkit, and nothing was assembled
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "Runtime Interface Emulator is not available" in err and "--emulator fnkit" in err
    assert not (tmp_path / "cache" / "task-roots").exists()


def test_emulator_fnkit_needs_no_emulator_binary(
    built_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no emulator binary to be had
    def unavailable(_architecture: str) -> RieBinary:
        raise EmulatorUnavailableError("offline")

    monkeypatch.setattr("fnkit_ops.invoke.rie_binary.ensure_binary", unavailable)
    event = str(REPO / "events" / "digits-direct.json")
    argv = ["invoke", "digits", "--event", event, "--artifacts", str(built_models), "--quiet"]
    argv += ["--task-root", str(tmp_path / "task")]

    # WHEN fnkit invoke runs with and without the explicit fallback
    assert main(argv) == 2
    capsys.readouterr()
    code = main([*argv, "--emulator", "fnkit"])

    # THEN only the explicit `--emulator fnkit` runs, through fnkit's own Runtime API
    out = capsys.readouterr().out
    assert code == 0
    assert '"model_version"' in out and "Init Duration" in out
