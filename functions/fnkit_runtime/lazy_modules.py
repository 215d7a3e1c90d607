"""Modules that a library imports eagerly and fnkit's handler rarely runs, made lazy at cold start.

`defer(name)` puts a stand-in module in `sys.modules` before anything imports it: the importer gets
it at once, and the module's own code (and its imports) runs into it on the first access to an
attribute the module defines, so code that uses it sees the real module. The module is found without
importing its parent packages (their `__init__` would import it eagerly).

Not `importlib.util.LazyLoader`: its module loads on *any* attribute access, and the import system
itself reads `__spec__` when a package does `from package import module` (3.11), which defeats it.

The uses (see `observability`), both for powertools' Logger, which imports at import time what only
options fnkit never sets need (docs/performance.md, "Where the cold start goes"):
- `utilities.jmespath_utils`, for `inject_lambda_context(correlation_id_path=...)` (fnkit sets
  correlation ids itself): jmespath, typing_extensions, gzip and base64, ~4 ms of every cold start;
- the standard library's `random`, for log sampling (POWERTOOLS_LOGGER_SAMPLE_RATE, which the
  template does not set): `_random`, `_sha512` and `bisect` with it, 1–2.5 ms.
The upstream fix is the same deferral inside powertools: Logger importing each where it is used.
A star-import (`from random import *`) reads `__all__`, which runs the module too.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from importlib.machinery import ModuleSpec, PathFinder
from typing import Any


class _Deferred(types.ModuleType):
    """A module whose code has not run yet: it runs on the first lookup of an attribute it lacks."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr != "__all__":  # import machinery probing dunders it lacks
            raise AttributeError(attr)
        self.__class__ = types.ModuleType  # type: ignore[assignment]  # from here on, an ordinary module
        spec = self.__spec__
        assert spec is not None and spec.loader is not None
        spec.loader.exec_module(self)
        return getattr(self, attr)


def _find_spec(name: str) -> ModuleSpec | None:
    """The module's spec, walking its packages' search paths without importing them."""
    path: list[str] | None = None
    spec: ModuleSpec | None = None
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        spec = PathFinder.find_spec(".".join(parts[:depth]), path)
        if spec is None:
            return None
        path = list(spec.submodule_search_locations or [])
    return spec


def defer(name: str) -> bool:
    """Make `name` lazy unless it is imported already or cannot be found; True when deferred."""
    if name in sys.modules:
        return False
    spec = _find_spec(name)
    if spec is None or spec.loader is None:
        return False
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Deferred
    sys.modules[name] = module
    return True
