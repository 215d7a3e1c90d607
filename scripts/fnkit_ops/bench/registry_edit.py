"""Write a recommended MemorySize into the registry: a text edit that keeps comments and layout."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from fnkit_runtime.manifest import write_atomic

from fnkit_ops.bench.exceptions import RegistryEditError

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_INLINE = re.compile(r"^(\s*function\s*=\s*\{[^}]*?\bmemory_mb\s*=\s*)(\d+)")
_KEY = re.compile(r"^(\s*memory_mb\s*=\s*)(\d+)")


def _section_of(line: str) -> str | None:
    match = _HEADER.match(line)
    return match.group(1).replace(" ", "").replace('"', "") if match else None


def _edit_lines(lines: list[str], model: str, memory_mb: int) -> int:
    """Replace the model's memory_mb in place; return how many lines changed."""
    section: str | None = None
    changed = 0
    for i, line in enumerate(lines):
        section = _section_of(line) or section
        if section == f"models.{model}":
            pattern = _INLINE
        elif section == f"models.{model}.function":
            pattern = _KEY
        else:
            continue
        new, count = pattern.subn(lambda m: f"{m.group(1)}{memory_mb}", line, count=1)
        if count:
            lines[i] = new
            changed += 1
    return changed


def _memory_of(data: dict[str, Any], model: str) -> Any:
    return data.get("models", {}).get(model, {}).get("function", {}).get("memory_mb")


def write_memory_size(registry: Path, model: str, memory_mb: int) -> bool:
    """Set `models.<model>.function.memory_mb`; return False when it already had that value."""
    if not 128 <= memory_mb <= 10_240:
        raise RegistryEditError(f"memory size {memory_mb} is outside Lambda's 128-10240 MB")
    try:
        text = registry.read_text(encoding="utf-8")
        before = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegistryEditError(f"cannot read registry {registry}: {exc}") from exc
    if _memory_of(before, model) is None:
        raise RegistryEditError(f"registry {registry} has no models.{model}.function.memory_mb")
    if _memory_of(before, model) == memory_mb:
        return False
    lines = text.splitlines(keepends=True)
    if _edit_lines(lines, model, memory_mb) != 1:
        raise RegistryEditError(
            f"registry {registry}: models.{model}.function.memory_mb is not written as "
            "`function = { memory_mb = N, ... }` or under [models.NAME.function]; edit it by hand"
        )
    new_text = "".join(lines)
    after = tomllib.loads(new_text)
    before["models"][model]["function"]["memory_mb"] = memory_mb
    if after != before:
        raise RegistryEditError(f"registry {registry}: the edit would change more than memory_mb")
    write_atomic(registry, new_text.encode("utf-8"))
    return True
