"""AWS's Runtime Interface Emulator binary: taken from the SAM CLI wheel into the cache, verified.

`pip download --no-deps --require-hashes aws-sam-cli==1.170.0` fetches the wheel (its sha256 pinned);
the emulator for the function's architecture is extracted to `<cache>/rie/aws-lambda-rie-<arch>`,
checked against its pinned sha256, made executable, and described in `<binary>.json` beside it. The
SAM CLI is never installed. Which CPU the emulator runs on (an arm64 one under qemu) is `cpu.py`'s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from fnkit_runtime.manifest import sha256_file

from fnkit_ops.invoke.constants import (
    RIE_CACHE_SUBDIR,
    RIE_MEMBER,
    RIE_SHA256,
    SAM_CLI_REQUIREMENT,
    SAM_CLI_WHEEL_SHA256,
)
from fnkit_ops.invoke.exceptions import EmulatorUnavailableError
from fnkit_ops.invoke.taskroot import cache_dir


@dataclass(frozen=True)
class RieBinary:
    """One verified emulator binary and where it came from."""

    path: Path
    architecture: str
    sha256: str
    source: str
    """The wheel it was extracted from (requirement and member)."""


def check_architecture(architecture: str) -> None:
    """Raise when the SAM CLI wheel has no emulator for `architecture` (where it runs is `cpu.py`'s)."""
    if architecture not in RIE_SHA256:
        raise EmulatorUnavailableError(f"no Runtime Interface Emulator for architecture {architecture!r}")


def binary_path(architecture: str, cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / RIE_CACHE_SUBDIR / Path(RIE_MEMBER.format(arch=architecture)).name


def cached_binary(architecture: str, cache: Path | None = None) -> RieBinary | None:
    """The cached emulator when it is there and matches its pinned sha256 (else None)."""
    path = binary_path(architecture, cache)
    if not path.is_file():
        return None
    digest = sha256_file(path)
    if digest != RIE_SHA256[architecture]:
        return None
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return RieBinary(
        path, architecture, digest, f"{SAM_CLI_REQUIREMENT}:{RIE_MEMBER.format(arch=architecture)}"
    )


def _download_wheel(into: Path) -> Path:
    """`pip download` of the pinned SAM CLI wheel (hash-checked by pip) into `into`; its path."""
    requirements = into / "requirements.txt"
    requirements.write_text(f"{SAM_CLI_REQUIREMENT} --hash=sha256:{SAM_CLI_WHEEL_SHA256}\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-input",
        "--no-deps", "--only-binary=:all:", "--require-hashes", "-r", str(requirements), "-d", str(into),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    wheels = sorted(into.glob("aws_sam_cli-*.whl"))
    if completed.returncode != 0 or not wheels:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise EmulatorUnavailableError(
            f"AWS's Runtime Interface Emulator is not available: no cached binary and "
            f"`pip download {SAM_CLI_REQUIREMENT}` failed ({last.strip()}); "
            "connect to PyPI once, or run with `--emulator fnkit` (fnkit's own Runtime API)"
        )
    return wheels[0]


def download_binary(architecture: str, cache: Path | None = None) -> RieBinary:
    """Fetch the wheel, extract the emulator for `architecture` into the cache, verify and record it."""
    target = binary_path(architecture, cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    member = RIE_MEMBER.format(arch=architecture)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        wheel = _download_wheel(Path(tmp))
        staged = Path(tmp) / target.name
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, staged.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        digest = sha256_file(staged)
        if digest != RIE_SHA256[architecture]:
            raise EmulatorUnavailableError(
                f"{member} in {wheel.name} has sha256 {digest}, not the pinned {RIE_SHA256[architecture]}"
            )
        staged.chmod(0o755)
        os.replace(staged, target)
    binary = RieBinary(target, architecture, digest, f"{SAM_CLI_REQUIREMENT}:{member}")
    record = {**asdict(binary), "path": str(target), "wheel_sha256": SAM_CLI_WHEEL_SHA256}
    target.with_name(f"{target.name}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return binary


def ensure_binary(architecture: str, cache: Path | None = None, *, download: bool = True) -> RieBinary:
    """The verified emulator for `architecture`: from the cache, else downloaded (when allowed)."""
    check_architecture(architecture)
    binary = cached_binary(architecture, cache)
    if binary is not None:
        return binary
    if not download:
        raise EmulatorUnavailableError(
            f"AWS's Runtime Interface Emulator is not in {binary_path(architecture, cache)}; "
            "run with `--emulator fnkit` (fnkit's own Runtime API)"
        )
    return download_binary(architecture, cache)
