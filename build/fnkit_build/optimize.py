"""Offline graph optimization, so the function's session creation skips those passes.

ONNX Runtime writes the optimized graph through `SessionOptions.optimized_model_filepath`. The level
is ORT_ENABLE_EXTENDED: its fusions run on any CPU; ORT_ENABLE_ALL adds layout transformations that
are specific to the build host's hardware. The optimized file is then loaded again and its outputs
compared with the un-optimized file's, under the function's session settings (no graph passes on
an optimized file); if it fails to load, differs, or grows past the size bound, the
un-optimized file ships instead (optimized=False), which is always safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fnkit_build.inference import open_served_session, open_session, run_session
from fnkit_build.parity import compare
from fnkit_build.registry import ModelSpec, Tolerance
from fnkit_build.types import Feeds

LEVEL = "extended"


@dataclass(frozen=True)
class OptimizeOutcome:
    path: Path
    optimized: bool
    note: str


def optimize_offline(
    source: Path,
    target: Path,
    spec: ModelSpec,
    *,
    feeds: Feeds,
    tolerance: Tolerance,
    max_bytes: int | None,
    disabled: Sequence[str] = (),
) -> OptimizeOutcome:
    """Write an offline-optimized copy of `source` to `target` (without the graph transformers in
    `disabled`) and verify it; fall back to `source`."""
    try:
        open_session(source, threads=1, optimized_path=target, level=LEVEL, disabled=disabled)
        # as the function loads an optimized file
        optimized = run_session(open_served_session(target, optimized=True), feeds, spec)
    except Exception as exc:
        return OptimizeOutcome(
            source, False, f"optimized file unusable ({type(exc).__name__}: {exc}); kept raw"
        )
    expected = run_session(open_session(source, threads=1, disabled=disabled), feeds, spec)
    failing = [d for d in compare(optimized, expected, tolerance) if not d.ok]
    if failing:
        worst = max(d.max_abs for d in failing)
        return OptimizeOutcome(source, False, f"optimized outputs differ (max abs {worst:.3g}); kept raw")
    size = target.stat().st_size
    if max_bytes is not None and size > max_bytes:
        return OptimizeOutcome(source, False, f"optimized file {size} bytes exceeds {max_bytes}; kept raw")
    without = f" without {', '.join(disabled)}" if disabled else ""
    return OptimizeOutcome(target, True, f"ORT_ENABLE_{LEVEL.upper()} offline{without}, outputs verified")
