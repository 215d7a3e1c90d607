"""Fixtures of the local runtime's tests: a tiny task root with a standard-library handler."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fnkit_ops.invoke import BuiltFunction, FunctionConfig, TaskRoot, assemble_task_root, locate_built_model
from fnkit_ops.invoke.rie import RieFunction
from fnkit_ops.invoke.rie_binary import RieBinary, ensure_binary

HANDLERS = Path(__file__).resolve().parent / "handlers"
REPO = Path(__file__).resolve().parents[2]
MODELS = ["digits", "minilm"]
API_EVENTS = ["http-api", "rest-api", "function-url"]
OTHER_EVENTS = ["direct", "warmup", "health"]


def handler_files(*names: str) -> dict[str, Path]:
    """The task-root copies of test handlers from `handlers/`, with the `probes.py` they share."""
    return {name: HANDLERS / name for name in (*names, "probes.py")}


@pytest.fixture(scope="session")
def trivial_root(tmp_path_factory: pytest.TempPathFactory) -> TaskRoot:
    """Only the runtime client (no requirements) plus `trivial.py`; the dependency layer is cached."""
    dest = tmp_path_factory.mktemp("trivial") / "task"
    return assemble_task_root(dest, [], handler_files("trivial.py"))


@pytest.fixture
def trivial_config() -> FunctionConfig:
    return FunctionConfig(function_name="fnkit-trivial", memory_mb=512, handler="trivial.handler")


@pytest.fixture(scope="session")
def rie_binary() -> RieBinary:
    """AWS's Runtime Interface Emulator from the pinned SAM CLI wheel, downloaded into the cache once.

    On a fresh clone this runs `pip download` (PyPI must be reachable); later runs use the cache.
    """
    return ensure_binary("x86_64")


@dataclass(frozen=True)
class InvokeRun:
    built: BuiltFunction
    names: list[str]
    """Event names, in the order sent: golden-0..n, the shipped events, then the bad requests."""
    document: dict[str, Any]
    """`fnkit invoke --json` output."""
    code: int


def bad_requests(model: str) -> dict[str, Any]:
    """Held-out bad requests, built from the model's rendered events (none of them is shipped)."""
    http = json.loads((REPO / "events" / f"{model}-http-api.json").read_text())
    rest = json.loads((REPO / "events" / f"{model}-rest-api.json").read_text())
    url = json.loads((REPO / "events" / f"{model}-function-url.json").read_text())
    return {
        "bad-not-json": {**http, "body": "{not json"},
        "bad-unknown-input": {**http, "body": json.dumps({"inputs": {"no_such_input": [1.0]}})},
        "bad-no-inputs": {**rest, "body": "{}"},
        "bad-base64": {**url, "isBase64Encoded": True, "body": "%%% not base64"},
        "bad-route": {**http, "rawPath": f"/{model}/nope", "routeKey": f"POST /{model}/nope"},
        "bad-direct": {"inputs": "not what the signature wants", "extra": 1},
    }


def alive(pid: int) -> bool:
    """Whether process `pid` is there (a zombie, exited but not yet reaped, is gone too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    return False


def ctrl_c_during(fn: RieFunction, event: Any, warm_up: Sequence[Any] = ()) -> list[int]:
    """Start `fn`, send `warm_up` then `event` (one that runs far longer than this waits), with a
    SIGINT to this process once the emulator has started its runtime (however loaded the machine)
    and 0.5 s into `event`; the KeyboardInterrupt must escape. Returns the emulator's and its
    runtime's pids as they were then."""
    pids: list[int] = []

    def interrupt() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (fn.process and fn.process.descendants()):
            time.sleep(0.05)
        time.sleep(0.5)
        if fn.process is not None:
            pids.extend([fn.process.popen.pid, *fn.process.descendants()])
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt), fn:
        for warm in warm_up:
            fn.invoke(warm)
        threading.Thread(target=interrupt, daemon=True).start()
        fn.invoke(event)
    return pids


ID_KEYS = {"request_id", "requestId"}
"""Per-invocation ids: each emulator makes its own."""


def normalized(value: Any) -> Any:
    """A response with JSON bodies parsed and per-invocation ids dropped, for comparing two runs."""
    if isinstance(value, dict):
        out = {k: normalized(v) for k, v in value.items() if k not in ID_KEYS}
        if isinstance(out.get("body"), str):
            with contextlib.suppress(ValueError):
                out["body"] = normalized(json.loads(out["body"]))
        return out
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


class InvokeRuns:
    """`fnkit invoke --json` of every golden sample, shipped event and bad request, per model and
    emulator, run once per session and shared by the tests that read it (`registry`: the shipped
    one unless given, e.g. its arm64 variant)."""

    def __init__(self, artifacts: Path, tmp: pytest.TempPathFactory, registry: Path | None = None) -> None:
        self.artifacts, self.tmp, self.registry = artifacts, tmp, registry
        self._runs: dict[tuple[str, str], InvokeRun] = {}

    def get(self, model: str, emulator: str) -> InvokeRun:
        key = (model, emulator)
        if key not in self._runs:
            self._runs[key] = self._run(model, emulator)
        return self._runs[key]

    def _run(self, model: str, emulator: str) -> InvokeRun:
        from fnkit_ops.cli import main

        tmp = self.tmp.mktemp(f"invoke-{model}-{emulator}")
        built = locate_built_model(model, self.artifacts)
        files = _event_files(tmp, built)
        argv = ["invoke", model, "--artifacts", str(self.artifacts), "--json", "--emulator", emulator]
        argv += ["--task-root", str(tmp / "task")]
        argv += ["--registry", str(self.registry)] if self.registry else []
        for _, path in files:
            argv += ["--event", str(path)]
        out = io.StringIO()  # capsys is function-scoped; this is shared by the session
        with contextlib.redirect_stdout(out):
            code = main(argv)
        if not out.getvalue():
            pytest.fail(f"fnkit invoke {model} --emulator {emulator} printed nothing (exit code {code})")
        return InvokeRun(built, [name for name, _ in files], json.loads(out.getvalue()), code)


def _event_files(tmp: Path, built: BuiltFunction) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for index, sample in enumerate(built.manifest.golden):
        path = tmp / f"golden-{index}.json"
        path.write_text(json.dumps(sample.request))  # a direct invocation event is the request body
        files.append((f"golden-{index}", path))
    files += [(kind, REPO / "events" / f"{built.model}-{kind}.json") for kind in API_EVENTS + OTHER_EVENTS]
    for name, event in bad_requests(built.model).items():
        path = tmp / f"{name}.json"
        path.write_text(json.dumps(event))
        files.append((name, path))
    truncating = [s.request for s in built.manifest.golden if s.request.get("truncate") is True]
    if truncating:  # the same long text without "truncate": the model's default is to reject it
        path = tmp / "overflow.json"
        path.write_text(json.dumps({"inputs": truncating[0]["inputs"]}))
        files.append(("overflow", path))
    return files


@pytest.fixture(scope="session")
def invoke_runs(built_models: Path, tmp_path_factory: pytest.TempPathFactory) -> InvokeRuns:
    return InvokeRuns(built_models, tmp_path_factory)
