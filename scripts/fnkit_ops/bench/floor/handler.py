"""The bare floor handler: onnxruntime + numpy + the runtime client, session (and tokenizer) at import.

What a careful 40-line handler does, and nothing more: no validation, no metrics library, no logs,
no routes; it answers a direct invocation `{"inputs": ...}` with the raw outputs. It does the same
model work as fnkit's function, so the two cold starts differ only by what fnkit adds: the same
OpenBLAS thread setting before numpy loads, the same session options (explicit thread counts from the
memory size, graph passes off for an offline-optimized artifact) and, for text models, the same
tokenizer truncation and padding. It reads `model/manifest.json` with the json module only for the
artifact's file name and those settings. Standard library, numpy, onnxruntime (and tokenizers) only.

It prints one EMF document with ModelLoadTime, as the torch baseline does, so the bench splits its
cold start like the others'.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import onnxruntime as ort

_STARTED = time.perf_counter()
_MODEL_DIR = os.path.join(os.environ.get("LAMBDA_TASK_ROOT", os.path.dirname(__file__)), "model")


def _threads() -> int:
    explicit = os.environ.get("FNKIT_INTRA_OP_THREADS", "").strip()
    if explicit:
        return max(1, int(explicit))
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "").strip()
    return max(1, min(6, int(int(memory) / 1769 + 0.5))) if memory else 1


with open(os.path.join(_MODEL_DIR, "manifest.json"), encoding="utf-8") as _file:
    _MANIFEST = json.load(_file)
_options = ort.SessionOptions()
_options.intra_op_num_threads = _threads()
_options.inter_op_num_threads = 1
_options.graph_optimization_level = (
    ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if _MANIFEST["artifact"]["optimized"]
    else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
)
SESSION = ort.InferenceSession(
    os.path.join(_MODEL_DIR, _MANIFEST["artifact"]["file"]), _options, providers=["CPUExecutionProvider"]
)
_INPUTS = [(i["name"], i["dtype"]) for i in _MANIFEST["signature"]["inputs"]]
_TEXT: dict[str, Any] | None = _MANIFEST.get("text")
TOKENIZER: Any = None
if _TEXT:
    from tokenizers import Tokenizer

    TOKENIZER = Tokenizer.from_file(os.path.join(_MODEL_DIR, _TEXT["tokenizer_file"]))
    TOKENIZER.enable_truncation(max_length=int(_TEXT["max_length"]))
    TOKENIZER.enable_padding(pad_id=0, pad_token="[PAD]")
_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
print(
    json.dumps(
        {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": "fnkit-floor",
                        "Dimensions": [["service"]],
                        "Metrics": [{"Name": "ModelLoadTime", "Unit": "Milliseconds"}],
                    }
                ],
            },
            "service": "floor",
            "ModelLoadTime": (time.perf_counter() - _STARTED) * 1000,
        }
    ),
    flush=True,
)


def prepare(inputs: Any) -> dict[str, Any]:
    """The session's feeds for a request's inputs."""
    if TOKENIZER is not None:
        encodings = TOKENIZER.encode_batch([inputs] if isinstance(inputs, str) else inputs)
        dtypes = dict(_INPUTS)
        return {
            name: np.asarray([getattr(e, _FIELDS[name]) for e in encodings], dtype=dtypes[name])
            for name in (_TEXT or {})["graph_inputs"]
        }
    name, dtype = _INPUTS[0]
    return {name: np.asarray(inputs, dtype=dtype)}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Direct invocation `{"inputs": ...}` -> the raw outputs."""
    outputs = SESSION.run(None, prepare(event["inputs"]))
    names = [o.name for o in SESSION.get_outputs()]
    return {
        "batch_size": len(outputs[0]),
        "outputs": {n: o.tolist() for n, o in zip(names, outputs, strict=True)},
    }
