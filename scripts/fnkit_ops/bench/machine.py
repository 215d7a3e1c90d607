"""What the figures were measured on, and the requests they were measured with."""

from __future__ import annotations

import importlib.metadata
import itertools
import os
import platform
import sys
from pathlib import Path
from typing import Any

from fnkit_runtime.manifest import Manifest

from fnkit_ops.bench.exceptions import BenchConfigError


def _cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "arch": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "onnxruntime": _version("onnxruntime"),
        "torch": _version("torch"),
    }


def batch_events(manifest: Manifest, batch_sizes: tuple[int, ...]) -> dict[int, dict[str, Any]]:
    """Direct-invocation events of each batch size, cycling through the manifest's golden items.

    When a golden request asks for truncation (a text longer than the model's limit), so do the events.
    """
    items: list[Any] = []
    truncate = any(sample.request.get("truncate") is True for sample in manifest.golden)
    for sample in manifest.golden:
        inputs = sample.request.get("inputs")
        items += inputs if isinstance(inputs, list) else [inputs]
    if not items or any(isinstance(item, dict) for item in items):
        raise BenchConfigError(
            f"model {manifest.model!r}: the bench needs golden requests whose inputs are a list "
            "(a batch of tensors or strings)"
        )
    extra = {"truncate": True} if truncate else {}
    return {
        size: {"inputs": list(itertools.islice(itertools.cycle(items), size)), **extra}
        for size in batch_sizes
    }
