"""Start a task root in a fresh, isolated Python process under awslambdaric.

Isolation: the base interpreter (not the dev venv's), `-s -S` (no user or system site-packages),
a clean environment built from scratch, `PYTHONPATH` and the working directory set to the task
root. So only the standard library and the task root are importable: torch, `fnkit_build` and
`fnkit_ops` are not. Bytecode writes are off, as /var/task is read-only in Lambda.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fnkit_runtime.constants import (
    DEFAULT_FUNCTION_VERSION,
    FUNCTION_NAME_ENV,
    FUNCTION_VERSION_ENV,
    INIT_TYPE_SNAP_START,
    INITIALIZATION_TYPE_ENV,
    LOAD_AT_INIT_ENV,
    MEMORY_SIZE_ENV,
    MODEL_NAME_ENV,
    TASK_ROOT_ENV,
)
from fnkit_runtime.vocabulary import MEMORY_RANGE, memory_in_range

from fnkit_ops.invoke.constants import ACCOUNT_ID, DEFAULT_REGION, HANDLER

OutputSink = Callable[[str, str], None]
"""Called with (stream name "stdout" | "stderr", line without newline) for each line of the child."""


@dataclass(frozen=True)
class FunctionConfig:
    """How Lambda would configure the function: name, memory, region, handler, extra env."""

    function_name: str
    memory_mb: int
    model: str | None = None
    """Sets FNKIT_MODEL_NAME when given."""
    handler: str = HANDLER
    region: str = DEFAULT_REGION
    version: str = DEFAULT_FUNCTION_VERSION
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra variables (the template's Environment); they win over the defaults."""
    python: Path | None = None
    """Interpreter for the function; default: the base interpreter of the running Python."""
    snapstart: bool = False
    """Start as Lambda does when it creates a SnapStart snapshot (init type `snap-start`, model at init)."""

    def __post_init__(self) -> None:
        if not memory_in_range(self.memory_mb):
            raise ValueError(f"memory size {self.memory_mb} MB is outside {MEMORY_RANGE}")

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"


def base_python() -> Path:
    """The interpreter the dev venv was made from: the same version, without the venv's packages."""
    return Path(getattr(sys, "_base_executable", None) or sys.executable)


def lambda_environment(task_root: Path, api_address: str, config: FunctionConfig) -> dict[str, str]:
    """The variables Lambda sets for a function, plus fnkit's and the caller's."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stream = f"{time.strftime('%Y/%m/%d')}/[{config.version}]{os.urandom(16).hex()}"
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": str(task_root),
        "PYTHONDONTWRITEBYTECODE": "1",
        TASK_ROOT_ENV: str(task_root),
        "AWS_LAMBDA_RUNTIME_API": api_address,
        FUNCTION_NAME_ENV: config.function_name,
        MEMORY_SIZE_ENV: str(config.memory_mb),
        FUNCTION_VERSION_ENV: config.version,
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        INITIALIZATION_TYPE_ENV: INIT_TYPE_SNAP_START if config.snapstart else "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
    }
    if config.model:
        env[MODEL_NAME_ENV] = config.model
    env.update(config.env)
    if config.snapstart:  # as the template renders for SnapStart models, over its Globals' "false"
        env[LOAD_AT_INIT_ENV] = "true"
    return env


LOG_TAIL_LINES = 20
"""How much of the function's log an init error shows."""


@dataclass
class OutputLog:
    """Lines the child printed, in arrival order: (stream, line)."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, stream: str, line: str) -> None:
        with self.lock:
            self.lines.append((stream, line))

    def text(self, stream: str | None = None) -> str:
        with self.lock:
            return "\n".join(line for name, line in self.lines if stream is None or name == stream)

    def __len__(self) -> int:
        with self.lock:
            return len(self.lines)

    def tail(self, count: int = LOG_TAIL_LINES) -> str:
        """The last `count` lines, indented as a function's log is shown under an error."""
        lines = self.text().splitlines()[-count:]
        return "\n".join(f"  | {line}" for line in lines)


def spawn_logged(
    command: Sequence[str], *, cwd: Path, env: dict[str, str], on_line: Callable[[str, str], None]
) -> tuple[subprocess.Popen[bytes], list[threading.Thread]]:
    """Start `command` (stdin closed) with a daemon thread per output stream calling
    `on_line(stream, line)` for each line; the streams are closed when the process ends them."""
    popen = subprocess.Popen(
        list(command), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    readers = [
        threading.Thread(target=_pump, args=(name, pipe, on_line), daemon=True)
        for name, pipe in (("stdout", popen.stdout), ("stderr", popen.stderr))
        if pipe is not None
    ]
    for reader in readers:
        reader.start()
    return popen, readers


def end_process(popen: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM, then SIGKILL if it is still there after `grace_s`; waits for it either way."""
    if popen.poll() is not None:
        return
    popen.terminate()
    try:
        popen.wait(grace_s)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(grace_s)


def _pump(name: str, pipe: IO[bytes], on_line: Callable[[str, str], None]) -> None:
    for raw in iter(pipe.readline, b""):
        on_line(name, raw.decode("utf-8", errors="replace").rstrip("\n"))
    pipe.close()


class FunctionProcess:
    """One execution environment: the child process, its output readers and its memory probe."""

    def __init__(
        self,
        task_root: Path,
        api_address: str,
        config: FunctionConfig,
        log: OutputLog,
        sink: OutputSink | None = None,
    ) -> None:
        self.task_root = task_root
        self.config = config
        self.log = log
        self.sink = sink
        python = config.python or base_python()
        self.started_at = time.perf_counter()
        self.popen, self._readers = spawn_logged(
            [str(python), "-s", "-S", "-m", "awslambdaric", config.handler],
            cwd=task_root,
            env=lambda_environment(task_root, api_address, config),
            on_line=self._on_line,
        )
        self._peak_kib = 0

    def _on_line(self, name: str, line: str) -> None:
        self.log.add(name, line)
        if self.sink is not None:
            self.sink(name, line)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def peak_memory_mib(self) -> float:
        """Peak resident set size so far (VmHWM), in MiB; kept after the process is gone."""
        try:
            with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        self._peak_kib = max(self._peak_kib, int(line.split()[1]))
                        break
        except (OSError, ValueError):
            pass
        return self._peak_kib / 1024.0

    def stop(self, grace_s: float = 5.0) -> int:
        """End the process (SIGTERM, then SIGKILL) and drain its output; returns its exit code."""
        self.peak_memory_mib()
        end_process(self.popen, grace_s)
        for reader in self._readers:
            reader.join(timeout=grace_s)
        return self.popen.returncode
