"""Which CPU a function runs on under the emulator: the host's own, or Graviton2 under qemu.

A function of the host's architecture runs on the host: the emulator binary and the base Python, in
the task root. An arm64 function on an x86_64 host runs in the build's Debian arm64 root
(`fnkit_build.emulation.arm64_root`, cached in `.fnkit-cache/emulation/`, built on first use): the
arm64 emulator and the root's Python each under `qemu-aarch64-static -cpu neoverse-n1` (Lambda's
Graviton2), entered with `unshare --root`, with a task root of aarch64 wheels. Each session gets
its own folder inside the root (task root and emulator hardlinked in), removed when it ends. That
needs qemu-user-static (`make emulators`) and root privileges; a cold start takes seconds.

Everything is checked before anything starts, and the emulator is only ever paired with a Python of
its own architecture.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fnkit_build.cpus import CPU_CLASSES, DEFAULT_CPUS, CpuClass, host_machine
from fnkit_build.emulation import (
    ARM64_ENV,
    ROOT_PYTHON_BIN,
    aarch64_qemu,
    aarch64_wheel_args,
    arm64_root,
    in_arm64_root,
)
from fnkit_build.exceptions import CpuEmulationError
from fnkit_runtime.vocabulary import Architecture

from fnkit_ops.invoke.exceptions import EmulatorUnavailableError
from fnkit_ops.invoke.taskroot import cache_dir, link_or_copy

GRAVITON2: CpuClass = CPU_CLASSES[DEFAULT_CPUS[Architecture.ARM64][0]]
"""What an arm64 function runs on: Lambda's arm64 is Graviton2 (qemu's neoverse-n1)."""
QEMU_AARCH64 = "qemu-aarch64-static"
UNSHARE = "unshare"
SESSION_PREFIX = "fnkit-invoke-"
FALLBACK_HINT = "`--emulator fnkit` runs it on the host's CPU instead"


@dataclass(frozen=True)
class FunctionCpu:
    """The CPU a function's processes run on under the emulator."""

    architecture: str
    cpu: CpuClass | None = None
    """The emulated class; None: the host's own CPU."""
    root: Path | None = None
    """The arm64 root the emulated processes run in."""

    @property
    def emulated(self) -> bool:
        return self.cpu is not None

    @property
    def how(self) -> str:
        return "the host's CPU" if self.cpu is None else self.cpu.how

    def wheels(self) -> list[str]:
        """pip's arguments for the task root's wheels: none for the host, aarch64 under qemu."""
        return [] if self.cpu is None else aarch64_wheel_args()


@dataclass(frozen=True)
class Placement:
    """One emulator session's commands and paths, as its processes see them."""

    emulator: tuple[str, ...]
    """Starts the emulator binary; its own arguments follow."""
    runtime: tuple[str, ...]
    """Starts the function's Python; awslambdaric's arguments follow."""
    task_root: Path
    """The task root as the function sees it (LAMBDA_TASK_ROOT, PYTHONPATH)."""
    cwd: Path
    """The host folder the emulator is started in."""
    env: Mapping[str, str] = field(default_factory=dict)
    staged: Path | None = None
    """The session's folder inside the arm64 root (host path), removed by `release`."""


def host_cpu() -> FunctionCpu:
    return FunctionCpu(host_machine())


def missing_for_qemu() -> list[str]:
    """What running an arm64 function under qemu needs and this host lacks."""
    missing = []
    if shutil.which(QEMU_AARCH64) is None:
        missing.append(f"{QEMU_AARCH64} (apt-get install qemu-user-static, or `make emulators`)")
    if shutil.which(UNSHARE) is None:
        missing.append(f"{UNSHARE} (util-linux)")
    if not _is_root():
        missing.append("root privileges (`unshare --root` into the arm64 root)")
    return missing


def _is_root() -> bool:
    return os.geteuid() == 0


def function_cpu(architecture: str, cache: Path | None = None) -> FunctionCpu:
    """Where a function of `architecture` runs here; raises (one line) what is missing for it."""
    host = host_machine()
    if architecture == host:
        return FunctionCpu(architecture)
    if architecture != Architecture.ARM64 or host != Architecture.X86_64:
        raise EmulatorUnavailableError(
            f"the function is {architecture} and this host is {host}: fnkit invoke emulates arm64 on "
            f"x86_64 only; {FALLBACK_HINT}"
        )
    missing = missing_for_qemu()
    if missing:
        raise EmulatorUnavailableError(
            f"the function is arm64 and this host is {host}: running it under qemu needs "
            f"{'; '.join(missing)}; {FALLBACK_HINT}"
        )
    try:
        root = arm64_root(GRAVITON2, cache or cache_dir())  # its progress goes to the sink, on stderr
    except CpuEmulationError as exc:
        raise EmulatorUnavailableError(f"the function is arm64: {exc}; {FALLBACK_HINT}") from exc
    return FunctionCpu(architecture, GRAVITON2, root)


def check_pairing(emulator_architecture: str, cpu: FunctionCpu) -> None:
    """Raise, before anything starts, when the emulator's architecture is not the function CPU's."""
    if emulator_architecture != cpu.architecture:
        raise EmulatorUnavailableError(
            f"the {emulator_architecture} emulator cannot start a Python on {cpu.how} "
            f"({cpu.architecture}); {FALLBACK_HINT}"
        )


def place(cpu: FunctionCpu, binary: Path, task_root: Path, python: Path) -> Placement:
    """The commands of one session: on the host as they are; under qemu, the task root and the
    emulator linked into a fresh folder inside the arm64 root, and the root's Python."""
    if cpu.cpu is None or cpu.root is None:
        return Placement((str(binary),), (str(python),), task_root, task_root)
    parent = cpu.root / "tmp"
    parent.mkdir(exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=SESSION_PREFIX, dir=parent))
    try:
        shutil.copytree(task_root, staged / "task", copy_function=link_or_copy, symlinks=True)
        link_or_copy(str(binary), str(staged / binary.name))
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    inside = Path("/") / staged.relative_to(cpu.root)
    qemu = aarch64_qemu(cpu.cpu)
    return Placement(
        emulator=tuple(in_arm64_root(cpu.root, [*qemu, str(inside / binary.name)], wd=str(inside / "task"))),
        runtime=(*qemu, ROOT_PYTHON_BIN),
        task_root=inside / "task",
        cwd=staged,
        env=dict(ARM64_ENV),
        staged=staged,
    )


def release(placement: Placement) -> None:
    """Remove the session's folder inside the arm64 root (nothing for a host session)."""
    if placement.staged is not None:
        shutil.rmtree(placement.staged, ignore_errors=True)
