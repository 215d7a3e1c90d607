"""Wraps fnkit's handler for the tests; on request, reports what the process has loaded or can import.

Copied into a task root as `fnkit_probe.py`; handler path `fnkit_probe.handler`. Every other event goes
to `fnkit_runtime.app.handler` unchanged.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from fnkit_runtime.app import handler as fnkit_handler
from probes import importable


def _loaded_files() -> list[str]:
    """Files of imported modules, plus every file mapped into the process (shared libraries)."""
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path:
            files.add(os.path.realpath(path))
    with open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].startswith("/"):
                files.add(os.path.realpath(parts[5].strip()))
    return sorted(files)


def handler(event: Any, context: Any) -> Any:
    if isinstance(event, dict) and event.get("fnkit_probe") == "loaded":
        return {"files": _loaded_files()}
    if isinstance(event, dict) and event.get("fnkit_probe") == "imports":
        return {name: importable(name) for name in event["names"]}
    return fnkit_handler(event, context)
