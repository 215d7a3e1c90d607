"""The torch baseline's Lambda handler: what most Lambda ML deployments ship today.

Copied into the baseline task root as `baseline_handler.py`, beside `pip install --target` of torch
(and transformers for text models) and `model/`. Like the SAM PyTorch templates it loads the model at
import time from a state dict and runs it eagerly in fp32 under `torch.inference_mode()`. It answers
direct invocations `{"inputs": ...}` with the same response shape as fnkit's function, so the benchmark
drives both the same way. It imports neither fnkit nor onnxruntime; standard library, numpy and torch
(plus transformers for `kind = "transformers"`) only.

`model/baseline.json` says how to load the model:
- `{"kind": "state_dict", "module_file": ..., "builder": ..., "state_dict": ..., "input_dtype": ...,
   "output": name, "labels": [...] | null}`: `module_file` defines the model (`builder()` returns it)
- `{"kind": "transformers", "model_dir": ..., "max_length": N, "output": name}` (mean pooling + L2).

The time spent loading the model is printed as an EMF document with a ModelLoadTime metric, the same
metric name fnkit's handler uses, so the benchmark splits both cold starts the same way.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

_MB_PER_VCPU = 1769
_MAX_VCPUS = 6


def _threads() -> int:
    explicit = os.environ.get("FNKIT_INTRA_OP_THREADS", "").strip()
    if explicit:
        return max(1, int(explicit))
    memory = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", str(_MB_PER_VCPU)))
    return max(1, min(_MAX_VCPUS, int(memory / _MB_PER_VCPU + 0.5)))


def _model_dir() -> Path:
    explicit = os.environ.get("FNKIT_MODEL_DIR", "").strip()
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("LAMBDA_TASK_ROOT", str(Path(__file__).parent))) / "model"


class _StateDictModel:
    """A torch module rebuilt from its class and state dict."""

    def __init__(self, model_dir: Path, config: dict[str, Any]) -> None:
        spec = importlib.util.spec_from_file_location("baseline_model_def", model_dir / config["module_file"])
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load {config['module_file']}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        net = getattr(module, config["builder"])()
        state = torch.load(model_dir / config["state_dict"], map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        self.net = net.eval()
        self.dtype = getattr(torch, config.get("input_dtype", "float32"))
        self.output = str(config["output"])
        self.labels: list[str] | None = config.get("labels")

    def prepare(self, inputs: Any) -> Any:
        return torch.as_tensor(np.asarray(inputs), dtype=self.dtype)

    def infer(self, prepared: Any) -> Any:
        with torch.inference_mode():
            return self.net(prepared)

    def respond(self, result: Any) -> dict[str, Any]:
        array = result.numpy()
        body: dict[str, Any] = {"outputs": {self.output: array.tolist()}, "predictions": []}
        if self.labels:
            probs = torch.softmax(result, dim=-1).numpy()
            body["predictions"] = [
                {"label": self.labels[int(i)], "score": float(p[int(i)])}
                for i, p in zip(array.argmax(axis=-1), probs, strict=True)
            ]
        return body


class _TransformersModel:
    """A Hugging Face encoder loaded with from_pretrained: mean pooling and L2 normalisation."""

    def __init__(self, model_dir: Path, config: dict[str, Any]) -> None:
        from transformers import AutoModel, AutoTokenizer  # text models only

        hf_dir = model_dir / config["model_dir"]
        self.tokenizer = AutoTokenizer.from_pretrained(hf_dir)
        self.net = AutoModel.from_pretrained(hf_dir).eval()
        self.max_length = int(config["max_length"])
        self.output = str(config["output"])

    def prepare(self, inputs: Any) -> Any:
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        return self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )

    def infer(self, prepared: Any) -> Any:
        with torch.inference_mode():
            hidden = self.net(**prepared).last_hidden_state
            mask = prepared["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    def respond(self, result: Any) -> dict[str, Any]:
        return {"outputs": {self.output: result.numpy().tolist()}, "predictions": []}


def _emit_load_metric(load_ms: float) -> None:
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": "fnkit-baseline",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "ModelLoadTime", "Unit": "Milliseconds"}],
                }
            ],
        },
        "service": "torch-baseline",
        "ModelLoadTime": load_ms,
    }
    print(json.dumps(document), flush=True)


def _load() -> _StateDictModel | _TransformersModel:
    started = time.perf_counter()
    torch.set_num_threads(_threads())
    model_dir = _model_dir()
    config = json.loads((model_dir / "baseline.json").read_text(encoding="utf-8"))
    model: _StateDictModel | _TransformersModel
    if config["kind"] == "transformers":
        model = _TransformersModel(model_dir, config)
    else:
        model = _StateDictModel(model_dir, config)
    _emit_load_metric((time.perf_counter() - started) * 1000)
    return model


MODEL = _load()
MODEL_NAME = os.environ.get("FNKIT_MODEL_NAME", "")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Direct invocation: `{"inputs": ...}` -> the response body."""
    result = MODEL.infer(MODEL.prepare(event["inputs"]))
    body = MODEL.respond(result)
    return {"model": MODEL_NAME, "model_version": "torch-baseline", "batch_size": len(result), **body}
