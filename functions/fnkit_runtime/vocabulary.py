"""The contract's words, defined once: tasks, gate metrics, quantization candidates, architectures,
tensor dtypes, Lambda's limits and the artifact's file names.

The registry validates into these, the manifest checks against them, and the build, runtime, render,
bench, invoke and promote read them from here. Standard library only (`enum`), so the function's cold
start and every other part can import it without onnxruntime or numpy. Members are `StrEnum`s: they
compare equal to, and serialize as, their plain string values, so manifests and registries keep their
shape.
"""

from __future__ import annotations

from enum import StrEnum


class Task(StrEnum):
    """What a model's first output means: class logits, an embedding, or any tensor."""

    CLASSIFICATION = "classification"
    EMBEDDING = "embedding"
    TENSOR = "tensor"


class Metric(StrEnum):
    """The accuracy gate's metric: a candidate's outputs against the torch fp32 reference."""

    ACCURACY_DROP = "accuracy_drop"
    """torch fp32 accuracy minus the candidate's (lower is better; classification only)."""
    COSINE_MEAN = "cosine_mean"
    """Mean cosine similarity per item on the first output (higher is better)."""
    MAX_ABS_ERROR = "max_abs_error"
    """Largest absolute difference over every output (lower is better)."""

    @property
    def operator(self) -> str:
        """How a passing value compares with the threshold: `>=` or `<=`."""
        return ">=" if self.higher_is_better else "<="

    @property
    def higher_is_better(self) -> bool:
        return self is Metric.COSINE_MEAN

    @property
    def max_threshold(self) -> float:
        """The largest threshold the registry accepts (an error is unbounded, the others are [0, 1])."""
        return float("inf") if self is Metric.MAX_ABS_ERROR else 1.0

    @property
    def raw_name(self) -> str:
        """Name of the raw value reports show fp32 -> chosen (accuracy for accuracy_drop)."""
        return "accuracy" if self is Metric.ACCURACY_DROP else self.value

    @property
    def label(self) -> str:
        """Column label of the raw value in the benchmark's tables."""
        return _METRIC_LABELS[self]

    def passes(self, value: float, threshold: float) -> bool:
        return value >= threshold if self.higher_is_better else value <= threshold


_METRIC_LABELS = {
    Metric.ACCURACY_DROP: "accuracy",
    Metric.COSINE_MEAN: "cosine to torch",
    Metric.MAX_ABS_ERROR: "max abs error",
}


class Candidate(StrEnum):
    """A file the gate scores: the fp32 export, or one of the registry's quantization candidates.

    `int8-static-qdq`: QDQ int8 with MinMax calibration over real samples, per-channel (CNNs);
    `int8-dynamic`: weights int8, activations quantized at run time (Linear/attention models);
    `int8-dynamic-per-channel`: the same with one weight scale per output channel.
    """

    FP32 = "fp32"
    INT8_STATIC_QDQ = "int8-static-qdq"
    INT8_DYNAMIC = "int8-dynamic"
    INT8_DYNAMIC_PER_CHANNEL = "int8-dynamic-per-channel"

    @property
    def is_fp32(self) -> bool:
        return self is Candidate.FP32

    @property
    def needs_calibration(self) -> bool:
        """Static quantization reads the factory's calibration samples."""
        return self is Candidate.INT8_STATIC_QDQ

    @property
    def dynamic(self) -> bool:
        return self.value.startswith("int8-dynamic")

    @property
    def per_channel(self) -> bool:
        """One weight scale per output channel (the static QDQ candidate's too)."""
        return self in (Candidate.INT8_DYNAMIC_PER_CHANNEL, Candidate.INT8_STATIC_QDQ)


QUANTIZATION_CANDIDATES = tuple(c for c in Candidate if not c.is_fp32)
"""What a registry's `quantization` list may name (fp32 is always a candidate)."""


class Architecture(StrEnum):
    X86_64 = "x86_64"
    ARM64 = "arm64"


_MACHINE_ARCHITECTURES = {
    "x86_64": Architecture.X86_64,
    "amd64": Architecture.X86_64,
    "aarch64": Architecture.ARM64,
    "arm64": Architecture.ARM64,
}
"""`platform.machine()` names (lowered) of the CPUs Lambda offers, by their Lambda architecture."""


def architecture_of(machine: str) -> str:
    """A machine name (`platform.machine()`) in Lambda's words: an `Architecture`, else the name lowered."""
    lowered = machine.lower()
    return _MACHINE_ARCHITECTURES.get(lowered, lowered)


GRAPH_DTYPES = ("float32", "float16", "float64", "int64", "int32", "int8", "uint8", "bool")
"""Element types a registry may declare for a graph's inputs and outputs."""
DTYPES = (*GRAPH_DTYPES, "string")
"""Element types a manifest's tensor spec may hold."""
TOKEN_DTYPES = ("int64", "int32")
"""Element types of a text model's token inputs."""
TEXT_GRAPH_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
"""Graph inputs a text model's function can fill from the tokenizer (`TextSpec.graph_inputs`)."""


def values(kind: type[StrEnum]) -> tuple[str, ...]:
    """The plain string values of an enum's members, in definition order (for messages)."""
    return tuple(member.value for member in kind)


# --- Lambda's limits (AWS documentation) ------------------------------------------------------------
MEMORY_MIN_MB = 128
MEMORY_MAX_MB = 10_240
MEMORY_RANGE = f"Lambda's {MEMORY_MIN_MB}-{MEMORY_MAX_MB} MB"
"""How messages name the memory bounds."""
MB_PER_VCPU = 1769
"""Lambda gives one vCPU per 1,769 MB of memory, up to MAX_VCPUS."""
MAX_VCPUS = 6
MAX_TIMEOUT_S = 900
API_TIMEOUT_S = 30
"""Behind the HTTP API, 30 s is the integration's own limit."""


def memory_in_range(memory_mb: int) -> bool:
    """Whether Lambda accepts a function memory size of `memory_mb`."""
    return MEMORY_MIN_MB <= memory_mb <= MEMORY_MAX_MB


# --- the artifact's files -------------------------------------------------------------------------
MODEL_SUBDIR = "model"
"""The model folder: `<artifacts>/<model>/model/` in the repo, `$LAMBDA_TASK_ROOT/model` in the image."""
MANIFEST_FILE = "manifest.json"
ARTIFACT_FILE = "model.onnx"
RESERVED_FILES = (ARTIFACT_FILE, MANIFEST_FILE)
"""Names the build writes into the model folder itself; a tokenizer file must not take them."""
