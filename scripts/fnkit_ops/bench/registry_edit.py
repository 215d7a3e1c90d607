"""Write a recommended MemorySize into the registry through tomlkit, which keeps comments and layout."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import tomlkit
from fnkit_runtime.manifest import write_atomic
from fnkit_runtime.vocabulary import MEMORY_RANGE, memory_in_range
from tomlkit.exceptions import TOMLKitError

from fnkit_ops.bench.exceptions import RegistryEditError


def _function_table(document: MutableMapping[str, Any], model: str) -> MutableMapping[str, Any] | None:
    """The model's `function` table (inline or `[models.NAME.function]`) when it sets memory_mb."""
    table: Any = document
    for key in ("models", model, "function"):
        if not isinstance(table, MutableMapping) or key not in table:
            return None
        table = table[key]
    return table if isinstance(table, MutableMapping) and "memory_mb" in table else None


def write_memory_size(registry: Path, model: str, memory_mb: int) -> bool:
    """Set `models.<model>.function.memory_mb`; return False when it already had that value."""
    if not memory_in_range(memory_mb):
        raise RegistryEditError(f"memory size {memory_mb} is outside {MEMORY_RANGE}")
    try:
        document = tomlkit.parse(registry.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        raise RegistryEditError(f"cannot read registry {registry}: {exc}") from exc
    function = _function_table(document, model)
    if function is None:
        raise RegistryEditError(f"registry {registry} has no models.{model}.function.memory_mb")
    if function["memory_mb"] == memory_mb:
        return False
    function["memory_mb"] = memory_mb
    write_atomic(registry, tomlkit.dumps(document).encode("utf-8"))
    return True
