"""Target CPU classes: the CPUs a Lambda function may land on, and what each means for int8.

The quantization preset follows the registry's target classes, never the build machine, so the same
registry gives the same artifact bytes on any build host. Each class says how the build verifies
an artifact on it (`emulation`): qemu user mode for the classes qemu's TCG can emulate, the build
host itself for the one it cannot (AVX-512 VNNI: TCG tops out at AVX2).

- `x86_64-avx2`: x86-64 with AVX2 and no VNNI (AMD EPYC before Zen 4, Intel before Cascade Lake).
  onnxruntime's u8×s8 kernels use `vpmaddubsw`, whose int16 pair sums saturate with full-range
  weights: artifacts for it need `reduce_range` (7-bit weights). The safe default of x86_64 Lambda,
  which does not promise VNNI. Verified under `qemu-x86_64-static -cpu Haswell`.
- `x86_64-avx512-vnni`: x86-64 with AVX-512 VNNI (Intel Cascade Lake and later): no saturation, full
  8-bit range. Only the build host can verify it, so naming it alone needs a VNNI build host.
- `arm64-graviton2`: Lambda's arm64 (Graviton2, Neoverse N1, int8 dot products `sdot`/`udot`): no
  saturation. Verified under `qemu-aarch64-static -cpu neoverse-n1` in a Debian arm64 root.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from fnkit_runtime.vocabulary import Architecture, architecture_of

CPUINFO = Path("/proc/cpuinfo")
"""Where the build host's CPU flags are read (tests point it at a fake file)."""


class Emulation(Enum):
    """How the build runs an artifact on a class."""

    QEMU_X86_64 = "qemu-x86_64"
    """qemu-x86_64-static -cpu MODEL with the build's own interpreter and environment."""
    QEMU_AARCH64 = "qemu-aarch64"
    """qemu-aarch64-static -cpu MODEL inside a Debian arm64 root with the runtime set's wheels."""
    BUILD_HOST = "build-host"
    """No emulator can: the build host runs it, if its own CPU is of the class."""


@dataclass(frozen=True)
class CpuClass:
    name: str
    architecture: str
    """The Lambda architecture (`function.architecture`) the class belongs to."""
    saturates_u8s8: bool
    """int8 u8×s8 products saturate with full-range weights: the preset needs reduce_range."""
    emulation: Emulation
    qemu_cpu: str = ""
    """qemu's -cpu model for the emulated classes."""
    host_flags: frozenset[str] = frozenset()
    """For BUILD_HOST classes: flags the build host must have to stand in for the class."""
    description: str = ""

    @property
    def how(self) -> str:
        """How a run on this class is made, for progress lines and the manifest."""
        if self.emulation is Emulation.QEMU_X86_64:
            return f"qemu-x86_64-static -cpu {self.qemu_cpu}"
        if self.emulation is Emulation.QEMU_AARCH64:
            return f"qemu-aarch64-static -cpu {self.qemu_cpu}, Debian arm64 root"
        return "build host"


CPU_CLASSES: dict[str, CpuClass] = {
    c.name: c
    for c in (
        CpuClass(
            "x86_64-avx2",
            Architecture.X86_64,
            saturates_u8s8=True,
            emulation=Emulation.QEMU_X86_64,
            qemu_cpu="Haswell",
            description="x86-64 AVX2 without VNNI",
        ),
        CpuClass(
            "x86_64-avx512-vnni",
            Architecture.X86_64,
            saturates_u8s8=False,
            emulation=Emulation.BUILD_HOST,
            host_flags=frozenset({"avx512_vnni"}),
            description="x86-64 with AVX-512 VNNI",
        ),
        CpuClass(
            "arm64-graviton2",
            Architecture.ARM64,
            saturates_u8s8=False,
            emulation=Emulation.QEMU_AARCH64,
            qemu_cpu="neoverse-n1",
            description="arm64 Graviton2 (Neoverse N1, int8 dot product)",
        ),
    )
}

DEFAULT_CPUS: dict[str, tuple[str, ...]] = {
    Architecture.X86_64: ("x86_64-avx2",),
    Architecture.ARM64: ("arm64-graviton2",),
}
"""Target classes when the registry names none: x86_64 Lambda promises no VNNI; arm64 is Graviton."""


@dataclass(frozen=True)
class QuantPreset:
    """Quantization settings for the function's target CPU classes (never the build host's)."""

    architecture: str
    reduce_range: bool
    reason: str


def target_preset(architecture: str, cpus: Sequence[str]) -> QuantPreset:
    """reduce_range when any target class saturates u8×s8 with full-range weights."""
    saturating = [name for name in cpus if CPU_CLASSES[name].saturates_u8s8]
    targets = ", ".join(cpus)
    if saturating:
        return QuantPreset(
            architecture,
            reduce_range=True,
            reason=f"targets {targets}: u8×s8 saturates on {saturating[0]}, reduce_range (7-bit weights)",
        )
    return QuantPreset(
        architecture, reduce_range=False, reason=f"targets {targets}: no int8 saturation, full 8-bit range"
    )


def host_cpu_flags(cpuinfo: Path | None = None) -> frozenset[str]:
    """The build host's CPU flags (empty when /proc/cpuinfo is unavailable, e.g. on macOS)."""
    try:
        text = (cpuinfo or CPUINFO).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def host_machine() -> str:
    """The build host's architecture in Lambda's words (x86_64 | arm64), or the raw machine name."""
    return architecture_of(platform.machine())


def host_class(flags: frozenset[str] | None = None) -> CpuClass | None:
    """The class the build host itself belongs to, if any (its gate run is then a run on that class)."""
    found = host_cpu_flags() if flags is None else flags
    machine = host_machine()
    if machine == Architecture.X86_64:
        if "avx512_vnni" in found:
            return CPU_CLASSES["x86_64-avx512-vnni"]
        if "avx2" in found and not found & {"avx_vnni", "amx_int8"}:
            return CPU_CLASSES["x86_64-avx2"]
    if machine == Architecture.ARM64 and "asimddp" in found:
        return CPU_CLASSES["arm64-graviton2"]
    return None


def host_saturates_u8s8() -> bool:
    """The build host's own u8×s8 int8 kernels saturate full-range weights (an AVX2 host without
    VNNI): there, int8 outputs of artifacts quantized for other classes differ from theirs."""
    found = host_class()
    return found is not None and found.saturates_u8s8
