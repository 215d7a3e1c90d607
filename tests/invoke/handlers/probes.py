"""What the test handlers report about their process; standard library only.

Copied into a task root as `probes.py` beside the handler that uses it (`handler_files` in conftest).
"""

from __future__ import annotations

import importlib


def importable(name: str) -> bool:
    """Whether `name` imports in this process (found, and its extension modules load)."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True
