"""Run an artifact on a target CPU class: qemu user mode, an arm64 root, or the build host.

- x86-64 classes run the build's own interpreter and environment under `qemu-x86_64-static -cpu
  MODEL` (qemu's TCG emulates up to AVX2, so `Haswell` is the honest floor for x86).
- arm64 classes run inside a Debian arm64 root made with `debootstrap` (Python 3.11) holding the
  runtime set (`functions/requirements*.txt`) installed from aarch64 wheels, under
  `qemu-aarch64-static -cpu MODEL` (`unshare --root`; `fnkit invoke` runs arm64 functions there
  too). numpy's OpenBLAS picks kernels qemu emulates wrongly there
  (a matmul returns inf/NaN) unless `OPENBLAS_CORETYPE=ARMV8`. The root is cached in the project
  cache (`.fnkit-cache/emulation/`) under a key of the suite and the requirement pins.
- a class no emulator can reach runs on the build host when the host is of that class.

Every failure (a missing emulator, a class this host cannot stand in for, a root that fails to
build, a run that fails) is a `CpuEmulationError` naming the class; nothing is skipped silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from fnkit_runtime.vocabulary import Architecture

from fnkit_build import emulated_run
from fnkit_build.cpus import CpuClass, Emulation, host_cpu_flags, host_machine
from fnkit_build.exceptions import CpuEmulationError
from fnkit_build.progress import Progress
from fnkit_build.types import Array, Feeds

DEBIAN_SUITE = "bookworm"
"""Debian 12: Python 3.11, the build's own minor version (the wheels are cp311)."""
DEBIAN_MIRROR = "http://deb.debian.org/debian"
WHEEL_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
ROOT_PYTHON = "3.11"
ROOT_QEMU = "/usr/bin/qemu-aarch64-static"
"""qemu user mode's copy inside an arm64 root (binfmt_misc without the F flag looks for it there)."""
ROOT_PYTHON_BIN = "/usr/bin/python3"
ARM64_ENV = {"OPENBLAS_CORETYPE": "ARMV8"}
"""What every process in an arm64 root needs under qemu (numpy's OpenBLAS kernels, see above)."""
SITE_DIR = "opt/fnkit/site"
"""Where the runtime set is installed inside an arm64 root."""
READY_MARK = ".fnkit-root-ready"
RUN_TIMEOUT_S = 1800.0
INSTALL_HINT = (
    "install them with `make emulators` (apt-get install qemu-user-static debootstrap binfmt-support)"
)
REQUIREMENTS = ("requirements.txt", "requirements-text.txt")


def run_on(
    cpu: CpuClass,
    model: Path,
    runs: Sequence[Feeds],
    *,
    output_names: Sequence[str],
    graph_level: int,
    cache: Path,
) -> list[dict[str, Array]]:
    """Each run's outputs (one `session.run` per element of `runs`) of `model` on `cpu`."""
    with tempfile.TemporaryDirectory(prefix="fnkit-cpu-job-", dir=_job_parent(cpu, cache)) as tmp:
        job_dir = Path(tmp)
        shutil.copyfile(model, job_dir / "model.onnx")
        shutil.copyfile(emulated_run.__file__, job_dir / "emulated_run.py")
        arrays = {f"{i}/{name}": value for i, feeds in enumerate(runs) for name, value in feeds.items()}
        np.savez(job_dir / "inputs.npz", **arrays)  # type: ignore[arg-type]
        inside = _inside_path(cpu, cache, job_dir)
        job = {
            "model": str(inside / "model.onnx"),
            "graph_level": graph_level,
            "runs": len(runs),
            "input_names": sorted(runs[0]) if runs else [],
            "output_names": list(output_names),
            "inputs": str(inside / "inputs.npz"),
            "outputs": str(inside / "outputs.npz"),
        }
        (job_dir / "job.json").write_text(json.dumps(job), encoding="utf-8")
        command, env = _command(cpu, cache, inside)
        _run(cpu, command, env)
        with np.load(job_dir / "outputs.npz") as out:
            return [{name: np.asarray(out[f"{i}/{name}"]) for name in output_names} for i in range(len(runs))]


def check_available(cpu: CpuClass, cache: Path) -> None:
    """Make sure runs on `cpu` are possible here (building a missing arm64 root); else raise."""
    if cpu.emulation is Emulation.BUILD_HOST:
        missing = sorted(cpu.host_flags - host_cpu_flags())
        if host_machine() != cpu.architecture or missing:
            raise CpuEmulationError(
                f"target CPU class {cpu.name} ({cpu.description}) cannot be emulated: qemu's TCG has no "
                f"AVX-512, and this build host lacks {', '.join(missing) or cpu.architecture}. Build on a "
                f"host with {', '.join(sorted(cpu.host_flags))}, or drop {cpu.name} from function.cpus"
            )
        return
    if cpu.emulation is Emulation.QEMU_X86_64:
        if host_machine() != Architecture.X86_64:
            raise CpuEmulationError(
                f"target CPU class {cpu.name}: emulation runs the build's own x86-64 interpreter, but this "
                f"build host is {host_machine()}"
            )
        _emulator(cpu, "qemu-x86_64-static")
        return
    _emulator(cpu, "qemu-aarch64-static")
    arm64_root(cpu, cache)


def _emulator(cpu: CpuClass, name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise CpuEmulationError(f"target CPU class {cpu.name}: {name} is not installed; {INSTALL_HINT}")
    return found


def _job_parent(cpu: CpuClass, cache: Path) -> Path | None:
    if cpu.emulation is not Emulation.QEMU_AARCH64:
        return None
    parent = arm64_root(cpu, cache) / "tmp"
    parent.mkdir(exist_ok=True)
    return parent


def _inside_path(cpu: CpuClass, cache: Path, job_dir: Path) -> Path:
    if cpu.emulation is not Emulation.QEMU_AARCH64:
        return job_dir
    return Path("/") / job_dir.relative_to(arm64_root(cpu, cache))


def _command(cpu: CpuClass, cache: Path, job_dir: Path) -> tuple[list[str], dict[str, str]]:
    script, job = str(job_dir / "emulated_run.py"), str(job_dir / "job.json")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    if cpu.emulation is Emulation.BUILD_HOST:
        return [sys.executable, script, job], env
    if cpu.emulation is Emulation.QEMU_X86_64:
        qemu = _emulator(cpu, "qemu-x86_64-static")
        return [qemu, "-cpu", cpu.qemu_cpu, sys.executable, script, job], env
    root = arm64_root(cpu, cache)
    env.update(PYTHONPATH=f"/{SITE_DIR}", PATH="/usr/bin:/bin", HOME="/root", **ARM64_ENV)
    return in_arm64_root(root, [*aarch64_qemu(cpu), ROOT_PYTHON_BIN, "-s", script, job]), env


def aarch64_qemu(cpu: CpuClass) -> list[str]:
    """qemu user mode for `cpu`, as a root's processes start it (its copy inside the root)."""
    return [ROOT_QEMU, "-cpu", cpu.qemu_cpu]


def in_arm64_root(root: Path, argv: Sequence[str], *, wd: str = "/") -> list[str]:
    """`argv` (its paths as seen inside) run with `root` as its root folder, in `wd` (needs root)."""
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    return [unshare, f"--root={root}", f"--wd={wd}", *argv]


def aarch64_wheel_args() -> list[str]:
    """pip's arguments that select the aarch64 wheels an arm64 root's Python takes (with --target)."""
    args = ["--only-binary=:all:"]
    for platform in WHEEL_PLATFORMS:
        args += ["--platform", platform]
    return [*args, "--python-version", ROOT_PYTHON, "--implementation", "cp"]


def _run(cpu: CpuClass, command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CpuEmulationError(f"target CPU class {cpu.name} ({cpu.how}): run failed: {exc}") from exc
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if not _qemu_noise(line)]
        raise CpuEmulationError(
            f"target CPU class {cpu.name} ({cpu.how}): the artifact run exited with "
            f"{done.returncode}: " + " | ".join(lines[-8:])
        )


def _qemu_noise(line: str) -> bool:
    """qemu's TCG warns about every CPUID feature of the model it lacks (pcid, x2apic...)."""
    return line.startswith("qemu-") and "TCG doesn't support requested feature" in line


def requirement_files() -> list[Path]:
    """The runtime set's pins (`functions/requirements*.txt`), as the image installs them."""
    import fnkit_runtime

    functions = Path(fnkit_runtime.__file__).resolve().parent.parent
    return [functions / name for name in REQUIREMENTS]


def root_key() -> str:
    """What an arm64 root depends on: suite, mirror, Python and the requirement pins."""
    digest = hashlib.sha256(f"{DEBIAN_SUITE}\n{DEBIAN_MIRROR}\n{ROOT_PYTHON}\n".encode())
    for path in requirement_files():
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def arm64_root(cpu: CpuClass, cache: Path) -> Path:
    """The cached Debian arm64 root with the runtime set, built on first use."""
    root = cache / "emulation" / f"arm64-{DEBIAN_SUITE}-{root_key()}"
    if (root / READY_MARK).is_file():
        return root
    if os.geteuid() != 0:
        raise CpuEmulationError(
            f"target CPU class {cpu.name}: building its Debian arm64 root ({root}) needs root (debootstrap, "
            "chroot); run the build as root once, or drop the class from function.cpus"
        )
    for tool in ("debootstrap", "qemu-aarch64-static"):
        _emulator(cpu, tool)
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    Progress(cpu.name).say(f"building the emulation root {root} (debootstrap, a few minutes; cached)")
    _build_root(cpu, root)
    (root / READY_MARK).write_text(root_key() + "\n", encoding="utf-8")
    return root


def _build_root(cpu: CpuClass, root: Path) -> None:
    qemu = _emulator(cpu, "qemu-aarch64-static")
    stage1 = ["debootstrap", "--arch=arm64", "--foreign", "--variant=minbase", "--include=python3"]
    _step(cpu, "debootstrap first stage", [*stage1, DEBIAN_SUITE, str(root), DEBIAN_MIRROR])
    shutil.copyfile(qemu, root / ROOT_QEMU.lstrip("/"))
    os.chmod(root / ROOT_QEMU.lstrip("/"), 0o755)
    # binfmt_misc without the F flag opens its interpreter inside the chroot, at Debian's path
    binfmt = root / "usr/libexec/qemu-binfmt"
    binfmt.mkdir(parents=True, exist_ok=True)
    (binfmt / "aarch64-binfmt-P").unlink(missing_ok=True)
    (binfmt / "aarch64-binfmt-P").symlink_to(ROOT_QEMU)
    _step(
        cpu,
        "debootstrap second stage",
        [
            shutil.which("chroot") or "/usr/sbin/chroot",
            str(root),
            "/debootstrap/debootstrap",
            "--second-stage",
        ],
    )
    _install_runtime(cpu, root)


def _install_runtime(cpu: CpuClass, root: Path) -> None:
    """The runtime set's aarch64 wheels into the root's site folder (pip's cross-platform --target)."""
    site = root / SITE_DIR
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site), *aarch64_wheel_args()]
    for path in requirement_files():
        pip += ["-r", str(path)]
    _step(cpu, "runtime set from aarch64 wheels", pip)


def _step(cpu: CpuClass, what: str, command: list[str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CpuEmulationError(f"target CPU class {cpu.name}: emulation root, {what}: {exc}") from exc
    if done.returncode != 0:
        tail = " | ".join((done.stderr + done.stdout).strip().splitlines()[-8:])
        raise CpuEmulationError(
            f"target CPU class {cpu.name}: emulation root, {what} failed ({done.returncode}): {tail}"
        )
