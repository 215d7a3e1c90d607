"""Run an ONNX artifact on prepared inputs; the script the build starts under a CPU emulator.

Standalone on purpose: it runs inside emulation roots that hold only the runtime set (numpy and
onnxruntime), so it imports nothing from fnkit. Usage: `python emulated_run.py JOB.json`, where the
job names the model, the graph optimization level (as onnxruntime's enum value), the output names,
an .npz of inputs keyed `<run>/<input>` and where to write an .npz of outputs keyed `<run>/<output>`.
Each run is one `session.run`, as the build's own runner batches them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    import numpy as np
    import onnxruntime as ort

    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel(job["graph_level"])
    session = ort.InferenceSession(job["model"], sess_options=options, providers=["CPUExecutionProvider"])
    inputs = np.load(job["inputs"])
    results = {}
    for run in range(job["runs"]):
        feeds = {name: inputs[f"{run}/{name}"] for name in job["input_names"]}
        for name, value in zip(job["output_names"], session.run(job["output_names"], feeds), strict=True):
            results[f"{run}/{name}"] = value
    np.savez(job["outputs"], **results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
