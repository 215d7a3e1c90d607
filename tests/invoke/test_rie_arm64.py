"""`fnkit invoke` of an arm64 function on an x86_64 host: the arm64 emulator under qemu, Graviton2 class.

Fast tests (unmarked): the qemu command as assembled, the session folder inside the arm64 root, and
the one-line refusals (no qemu, no root privileges, no arm64 root to be had, an emulator paired with
a Python of another architecture), all before anything is started. Emulated tests (`make
test-emulated`): the shipped models built for arm64 answer every event, golden and bad request under
qemu as the same artifact answers on the host's CPU; a standard-library handler shows the function
really runs on aarch64, and the emulator's timeout and Ctrl-C handling hold under qemu.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fnkit_build.cpus import host_saturates_u8s8
from fnkit_build.emulation import ARM64_ENV, ROOT_QEMU, aarch64_wheel_args
from fnkit_ops.bench.agreement import check_rie_agreement
from fnkit_ops.cli import main
from fnkit_ops.invoke import FunctionConfig, TaskRoot, assemble_task_root, invoke_all
from fnkit_ops.invoke import cpu as cpu_module
from fnkit_ops.invoke import rie as rie_module
from fnkit_ops.invoke.constants import HANDLER
from fnkit_ops.invoke.cpu import GRAVITON2, FunctionCpu, function_cpu, place, release
from fnkit_ops.invoke.exceptions import EmulatorUnavailableError
from fnkit_ops.invoke.rie import RieFunction, emulator_command
from fnkit_ops.invoke.rie_binary import RieBinary, ensure_binary
from fnkit_ops.invoke.taskroot import deps_key

from .conftest import InvokeRuns, alive, ctrl_c_during, handler_files, normalized

REPO = Path(__file__).resolve().parents[2]
MODELS = ["digits", "minilm"]
REAL_WHICH = shutil.which


def _fake_binary(tmp_path: Path, architecture: str = "arm64") -> RieBinary:
    path = tmp_path / f"aws-lambda-rie-{architecture}"
    path.write_bytes(b"not run")
    return RieBinary(path, architecture, "0" * 64, "test")


def _fake_task_root(tmp_path: Path) -> Path:
    task = tmp_path / "task-root"
    (task / "pkg").mkdir(parents=True)
    (task / "pkg" / "__init__.py").write_text("x = 1\n")
    return task


# --- the command, as assembled ----------------------------------------------------------------
def test_arm64_session_runs_emulator_and_python_under_qemu_in_the_root(tmp_path: Path) -> None:
    # GIVEN an arm64 root and a task root of aarch64 wheels
    root = tmp_path / "root"
    root.mkdir()
    binary, task = _fake_binary(tmp_path), _fake_task_root(tmp_path)
    cpu = FunctionCpu("arm64", GRAVITON2, root)

    # WHEN a session is placed
    placement = place(cpu, binary.path, task, Path("/host/python"))
    command = emulator_command(placement, 9001, "127.0.0.1:9002", HANDLER)

    # THEN the task root and the emulator are linked into a fresh folder inside the root
    assert placement.staged is not None and placement.staged.parent == root / "tmp"
    inside = Path("/") / placement.staged.relative_to(root)
    assert (placement.staged / "task" / "pkg" / "__init__.py").stat().st_ino == (
        task / "pkg" / "__init__.py"
    ).stat().st_ino
    assert (placement.staged / binary.path.name).read_bytes() == b"not run"
    # AND unshare enters the root in the task root; the emulator and the root's Python (never the
    # host's) each run under qemu as Graviton2, and OpenBLAS is held to kernels qemu emulates right
    qemu = [ROOT_QEMU, "-cpu", "neoverse-n1"]
    assert command == [
        REAL_WHICH("unshare") or "/usr/bin/unshare", f"--root={root}", f"--wd={inside}/task",
        *qemu, f"{inside}/aws-lambda-rie-arm64",
        "--runtime-interface-emulator-address", "127.0.0.1:9001",
        "--runtime-api-address", "127.0.0.1:9002",
        *qemu, "/usr/bin/python3", "-s", "-S", "-m", "awslambdaric", HANDLER,
    ]  # fmt: skip
    assert placement.task_root == inside / "task"
    assert dict(placement.env) == ARM64_ENV == {"OPENBLAS_CORETYPE": "ARMV8"}

    # WHEN the session ends THEN its folder inside the root is gone, the task root itself is kept
    release(placement)
    assert not placement.staged.exists() and (task / "pkg" / "__init__.py").is_file()


def test_host_session_runs_the_emulator_and_python_as_they_are(tmp_path: Path) -> None:
    # GIVEN a function of the host's own architecture
    binary, task = _fake_binary(tmp_path, "x86_64"), _fake_task_root(tmp_path)

    # WHEN its session is placed THEN nothing is staged and the host's Python runs in the task root
    placement = place(FunctionCpu("x86_64"), binary.path, task, Path("/host/python"))
    command = emulator_command(placement, 9001, "127.0.0.1:9002", HANDLER)
    assert command[0] == str(binary.path) and command[-6:-4] == ["/host/python", "-s"]
    assert placement.staged is None and placement.cwd == placement.task_root == task
    assert FunctionCpu("x86_64").wheels() == []


def test_an_arm64_task_root_has_a_dependency_layer_of_its_own() -> None:
    # THEN aarch64 wheels for Python 3.11 are cached apart from the host's
    lines = ["numpy==2.4.6"]
    wheels = aarch64_wheel_args()
    assert "manylinux2014_aarch64" in wheels and "--only-binary=:all:" in wheels
    assert FunctionCpu("arm64", GRAVITON2, Path("/root")).wheels() == wheels
    assert deps_key(lines) != deps_key(lines, wheels) == deps_key(lines, wheels)


# --- refusals: one line, before anything starts -----------------------------------------------
@pytest.fixture
def x86_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_module, "host_machine", lambda: "x86_64")


def _without(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    monkeypatch.setattr(cpu_module.shutil, "which", lambda name: None if name in names else REAL_WHICH(name))


@pytest.mark.parametrize(
    ("lack", "named"),
    [
        pytest.param(
            "qemu", r"qemu-aarch64-static \(apt-get install qemu-user-static, or `make emulators`\)"
        ),
        pytest.param("root", r"root privileges \(`unshare --root` into the arm64 root\)"),
        pytest.param("unshare", r"unshare \(util-linux\)"),
    ],
)
def test_what_is_missing_for_qemu_is_named(
    x86_host: None, monkeypatch: pytest.MonkeyPatch, lack: str, named: str
) -> None:
    # GIVEN an x86_64 host lacking one thing qemu emulation needs
    if lack == "root":
        monkeypatch.setattr(cpu_module.os, "geteuid", lambda: 1000)
    else:
        _without(monkeypatch, {"qemu": "qemu-aarch64-static", "unshare": "unshare"}[lack])

    # WHEN an arm64 function is to run THEN the message names it and the fallback
    with pytest.raises(
        EmulatorUnavailableError, match=rf"arm64 .*x86_64: .*{named}.*--emulator fnkit"
    ) as err:
        function_cpu("arm64")
    assert "\n" not in str(err.value)
    # AND a function of the host's architecture needs none of it
    assert function_cpu("x86_64") == FunctionCpu("x86_64")


def test_an_arm64_root_that_cannot_be_built_is_one_line(
    x86_host: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an empty cache and no debootstrap to build the arm64 root with
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    _without(monkeypatch, "debootstrap")
    monkeypatch.setattr(cpu_module, "missing_for_qemu", list)

    # WHEN an arm64 function is to run THEN the build's own message says what to install
    with pytest.raises(
        EmulatorUnavailableError, match=r"debootstrap is not installed.*make emulators"
    ) as err:
        function_cpu("arm64", tmp_path / "cache")
    assert "\n" not in str(err.value)
    assert not list((tmp_path / "cache").glob("emulation/*/usr"))


def test_fnkit_invoke_without_qemu_says_so_in_one_line_and_assembles_nothing(
    x86_host: None,
    built_models: Path,
    arm64_registry: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an arm64 function (the registry says so) and no qemu on PATH
    _without(monkeypatch, "qemu-aarch64-static")
    monkeypatch.setenv("FNKIT_CACHE_DIR", str(tmp_path / "cache"))
    event = str(REPO / "events" / "digits-direct.json")
    argv = ["invoke", "digits", "--registry", str(arm64_registry), "--artifacts", str(built_models)]

    # WHEN fnkit invoke runs under the emulator
    code = main([*argv, "--event", event, "--quiet"])

    # THEN one line, exit code 2, naming qemu and the fallback; nothing was assembled or started
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert "qemu-aarch64-static" in err and "make emulators" in err and "--emulator fnkit" in err
    assert not (tmp_path / "cache").exists()


def test_an_arm64_emulator_is_never_started_in_front_of_the_hosts_python(
    x86_host: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the arm64 emulator and no CPU said (the host's, x86_64)
    def spawned(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a process was started")

    monkeypatch.setattr(rie_module, "spawn_logged", spawned)
    config = FunctionConfig(function_name="fnkit-trivial", memory_mb=512, handler="trivial.handler")

    # WHEN a session is made THEN it is refused at once, in one line, and nothing starts
    with pytest.raises(
        EmulatorUnavailableError, match=r"arm64 emulator cannot start a Python on the host's CPU"
    ):
        RieFunction(_fake_binary(tmp_path), _fake_task_root(tmp_path), config)
    # AND the bench's agreement check reports it as not checked instead of running anything
    monkeypatch.setattr("fnkit_ops.invoke.rie_binary.ensure_binary", lambda _arch: _fake_binary(tmp_path))
    monkeypatch.setattr("fnkit_ops.invoke.runner.run_invocations", spawned)
    agreement = check_rie_agreement("digits", tmp_path, config, "arm64", [{}])
    assert agreement.agreed is None and "cannot start a Python" in agreement.note


# --- under qemu (make test-emulated) ---------------------------------------------------------
@pytest.fixture(scope="module")
def graviton2() -> FunctionCpu:
    """The arm64 root (built into the repo's .fnkit-cache on first use) under qemu -cpu neoverse-n1."""
    return function_cpu("arm64")


@pytest.fixture(scope="module")
def arm64_rie() -> RieBinary:
    return ensure_binary("arm64")


@pytest.fixture(scope="module")
def arm64_trivial_root(tmp_path_factory: pytest.TempPathFactory, graviton2: FunctionCpu) -> TaskRoot:
    dest = tmp_path_factory.mktemp("trivial-arm64") / "task"
    return assemble_task_root(dest, [], handler_files("trivial.py"), wheels=graviton2.wheels())


@pytest.fixture(scope="module")
def arm64_runs(
    arm64_models: Path, arm64_registry: Path, tmp_path_factory: pytest.TempPathFactory
) -> InvokeRuns:
    return InvokeRuns(arm64_models, tmp_path_factory, registry=arm64_registry)


def _same(got: Any, expected: Any, atol: float, rtol: float, where: str = "") -> list[str]:
    """Where two responses differ: in shape or text exactly, in numbers beyond the tolerances (two
    CPUs round a float's last bits differently)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        if set(got) != set(expected):
            return [f"{where}: keys {sorted(got)} != {sorted(expected)}"]
        return [p for k in expected for p in _same(got[k], expected[k], atol, rtol, f"{where}.{k}")]
    if isinstance(expected, list) and isinstance(got, list):
        if len(got) != len(expected):
            return [f"{where}: {len(got)} items != {len(expected)}"]
        return [
            p
            for i, (g, e) in enumerate(zip(got, expected, strict=True))
            for p in _same(g, e, atol, rtol, f"{where}[{i}]")
        ]
    if isinstance(expected, float) and isinstance(got, float | int):
        return [] if np.isclose(got, expected, atol=atol, rtol=rtol) else [f"{where}: {got} != {expected}"]
    return [] if got == expected else [f"{where}: {got!r} != {expected!r}"]


@pytest.mark.slow
@pytest.mark.emulated
@pytest.mark.parametrize("model", MODELS)
def test_arm64_function_answers_every_event_as_on_the_host(arm64_runs: InvokeRuns, model: str) -> None:
    # GIVEN the shipped model built for arm64, its goldens, shipped events and bad requests sent
    # through the arm64 emulator under qemu, and the same artifact on the host's x86_64 CPU
    arm64, x86 = arm64_runs.get(model, "rie"), arm64_runs.get(model, "fnkit")
    emulator = arm64.document["emulator"]
    assert emulator["architecture"] == "arm64" and emulator["cpu"].startswith(
        "qemu-aarch64-static -cpu neoverse-n1"
    )
    assert Path(emulator["binary"]).name == "aws-lambda-rie-arm64"

    # THEN every invocation succeeds; the shipped events and bad requests get the same response as on
    # the host (numbers within the model's tolerance: two CPUs round a float's last bits apart; on a
    # host whose int8 kernels saturate, an AVX2 CPU without VNNI, the arm64 build's full-range int8
    # numbers differ by design, so there only the responses' shapes and texts are compared)
    assert arm64.code == x86.code == 0
    tolerance = arm64.built.manifest.golden[0]
    atol = math.inf if host_saturates_u8s8() else tolerance.atol
    pairs = zip(arm64.document["invocations"], x86.document["invocations"], strict=True)
    for name, (on_arm64, on_x86) in zip(arm64.names, pairs, strict=True):
        assert on_arm64["ok"] and on_x86["ok"], name
        if not name.startswith("golden-"):
            got, expected = normalized(on_arm64["response"]), normalized(on_x86["response"])
            assert _same(got, expected, atol, tolerance.rtol, name) == []
    # AND the goldens are reproduced under qemu: an arm64 build's goldens are Graviton2's own outputs,
    # which x86's int8 kernels need not reproduce (minilm's long truncated text: cosine ~0.9995)
    by_name = dict(zip(arm64.names, arm64.document["invocations"], strict=True))
    for index, sample in enumerate(arm64.built.manifest.golden):
        outputs = by_name[f"golden-{index}"]["response"]["outputs"]
        for name, expected in sample.outputs.items():
            np.testing.assert_allclose(
                np.asarray(outputs[name]), np.asarray(expected), atol=sample.atol, rtol=sample.rtol
            )
    # AND the first invocation was the emulator's cold start, the others warm
    assert [inv["cold"] for inv in arm64.document["invocations"]] == [True] + [False] * (len(arm64.names) - 1)


@pytest.mark.slow
@pytest.mark.emulated
def test_the_function_runs_on_aarch64_and_the_emulators_error_shapes_hold(
    arm64_rie: RieBinary, arm64_trivial_root: TaskRoot, graviton2: FunctionCpu
) -> None:
    # GIVEN a standard-library handler under the arm64 emulator, AWS_LAMBDA_FUNCTION_TIMEOUT=4 (a
    # second was too little for the first invocation under qemu on a 2-core AMD EPYC build host)
    config = FunctionConfig(
        function_name="fnkit-trivial", memory_mb=512, handler="trivial.handler", env={"FNKIT_MARK": "x"}
    )
    events = [{"raise": "boom"}, {"sleep": 10}, {"echo": 1, "env": ["FNKIT_MARK", *ARM64_ENV]}]

    # WHEN the events are sent
    rie = RieFunction(arm64_rie, arm64_trivial_root.path, config, timeout_s=4, cpu=graviton2)
    result = invoke_all(rie, events)
    raised, timed_out, after = result.invocations

    # THEN a handler error is Lambda's error object and the timeout the emulator's own text
    assert not raised.ok and raised.error_type == "ValueError" and raised.response()["errorMessage"] == "boom"
    assert (
        timed_out.error_type == "Sandbox.Timedout" and timed_out.body == b"Task timed out after 4.00 seconds"
    )
    # AND the next event gets a fresh runtime, an aarch64 Python in the session folder inside the root
    response = after.response()
    assert after.ok and after.cold and response["machine"] == "aarch64"
    assert response["env"] == {"FNKIT_MARK": "x", **ARM64_ENV}
    assert any(p.startswith("/tmp/fnkit-invoke-") and p.endswith("/task") for p in response["sys_path"])
    assert response["flags"] == {"no_site": 1, "no_user_site": 1}
    assert graviton2.root is not None
    assert not list((graviton2.root / "tmp").glob("fnkit-invoke-*")), "the session folder was left behind"


@pytest.mark.slow
@pytest.mark.emulated
def test_ctrl_c_stops_the_emulated_emulator_and_runtime(
    arm64_rie: RieBinary, arm64_trivial_root: TaskRoot, graviton2: FunctionCpu
) -> None:
    # GIVEN a SIGINT while an invocation sleeps under qemu
    config = FunctionConfig(function_name="fnkit-trivial", memory_mb=512, handler="trivial.handler")
    fn = RieFunction(arm64_rie, arm64_trivial_root.path, config, cpu=graviton2)
    # the runtime is up first: a cold start under qemu takes seconds
    pids = ctrl_c_during(fn, {"sleep": 120}, warm_up=[{"echo": "warm"}])

    # THEN the emulator, the runtime and the session folder are gone
    assert len(pids) >= 2, "the emulator had not started its runtime"
    assert not any(alive(pid) for pid in pids)
    assert fn.process is None
    assert graviton2.root is not None and not list((graviton2.root / "tmp").glob("fnkit-invoke-*"))
