"""onnxruntime's profiler for one invocation (FNKIT_PROFILE=true): run, end the profile, summarize.

onnxruntime profiles a whole session from creation to `end_profiling()`, so a profiled invocation
runs on its own short-lived session created from the already verified artifact; the served session
is never touched. The trace file goes to the temp dir and is deleted after it is summarized.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort


@dataclass(frozen=True)
class OperatorTime:
    op_type: str
    calls: int
    total_us: int


def slowest_operators(trace: list[dict[str, Any]], top: int) -> list[OperatorTime]:
    """Sum the kernel time of each operator type in an onnxruntime trace; the slowest first."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for event in trace:
        args = event.get("args") or {}
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        entry = totals[str(args.get("op_name", "?"))]
        entry[0] += 1
        entry[1] += int(event.get("dur", 0))
    ranked = sorted(totals.items(), key=lambda item: item[1][1], reverse=True)
    return [OperatorTime(op_type=op, calls=calls, total_us=us) for op, (calls, us) in ranked[:top]]


def run_profiled(
    model_path: Path,
    make_options: Callable[[], ort.SessionOptions],
    feeds: Mapping[str, np.ndarray],
    output_names: list[str],
    top: int,
) -> tuple[list[np.ndarray], list[OperatorTime]]:
    """Run once with profiling on; return the outputs and the slowest operators."""
    options = make_options()
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.gettempdir(), f"fnkit-profile-{os.getpid()}")
    session = ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
    try:
        outputs = session.run(output_names, dict(feeds))
    finally:
        trace_path = Path(session.end_profiling())
    try:
        trace = json.loads(trace_path.read_text(encoding="utf-8"))
    finally:
        trace_path.unlink(missing_ok=True)
    return list(outputs), slowest_operators(trace if isinstance(trace, list) else [], top)
