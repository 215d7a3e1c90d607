"""The model registry (`models.toml`): load, validate and turn into dataclasses.

Every problem is a `RegistryError` naming the file, the model and the field, found on load, before any
model is built. Unknown keys are errors too, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from fnkit_runtime.manifest import (
    OVERFLOW_REJECT,
    OVERFLOW_RULES,
    FunctionSettings,
    Limits,
    TensorSpec,
    TextSpec,
)
from fnkit_runtime.vocabulary import (
    GRAPH_DTYPES,
    MEMORY_RANGE,
    QUANTIZATION_CANDIDATES,
    RESERVED_FILES,
    TEXT_GRAPH_INPUTS,
    TOKEN_DTYPES,
    Architecture,
    Candidate,
    Metric,
    Task,
    memory_in_range,
    values,
)

from fnkit_build.cpus import CPU_CLASSES, DEFAULT_CPUS
from fnkit_build.exceptions import RegistryError, UnknownModelError
from fnkit_build.repairspec import RepairSpec, repair_spec
from fnkit_build.serving import OptimizerDecl, executions, optimizer
from fnkit_build.stack import FUNCTION_KEYS, StackSpec, check_model_name, logical_prefix, stack_spec

_Word = TypeVar("_Word", bound=StrEnum)

BATCH_AXIS = "batch"
"""The first axis of every tensor; other axes may be dynamic under any name (`sequence`, `time`...)."""
AXIS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

_MODEL_KEYS = {
    "factory",
    "factory_args",
    "task",
    "labels",
    "quantization",
    "tolerance",
    "gate",
    "function",
    "limits",
    "text",
    "inputs",
    "outputs",
    "alarms",
    "repair",
    "execution",
    "optimizer",
}
_REQUIRED = ("factory", "task", "tolerance", "gate", "function", "inputs", "outputs")


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


@dataclass(frozen=True)
class GateSpec:
    metric: Metric
    threshold: float
    same_nearest_neighbour: bool = False
    """Embedding models: every evaluation item keeps its torch fp32 nearest neighbour."""
    max_size_ratio: float | None = None
    """Largest allowed artifact bytes / fp32 bytes (applies to every candidate, fp32 included)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "metric", Metric(self.metric))

    def passes(self, value: float) -> bool:
        """Whether a metric value meets the threshold (cosine is higher-better, the others lower)."""
        return self.metric.passes(value, self.threshold)


@dataclass(frozen=True)
class FunctionDecl(FunctionSettings):
    """The manifest's function settings plus the target CPU classes (`fnkit_build.cpus`) the function
    may land on; the quantization preset and the build's emulated verification follow them.
    Default: DEFAULT_CPUS of the architecture. The manifest records them in `cpus`, not here."""

    cpus: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.cpus:
            object.__setattr__(self, "cpus", DEFAULT_CPUS[self.architecture])

    def settings(self) -> FunctionSettings:
        return FunctionSettings(memory_mb=self.memory_mb, architecture=self.architecture)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    factory: str
    task: Task
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    tolerance: Tolerance
    gate: GateSpec
    function: FunctionDecl
    """The manifest's own type: memory size and architecture of the Lambda function."""
    quantization: tuple[Candidate, ...] = ()
    labels: tuple[str, ...] | None = None
    limits: Limits = field(default_factory=Limits)
    """The manifest's own Limits: one definition of the fields and their defaults."""
    text: TextSpec | None = None
    """The manifest's own type, without the tokenizer's sha256 (the build adds it when it ships the file)."""
    factory_args: Mapping[str, Any] = field(default_factory=dict)
    execution: tuple[str, ...] = ("batch", "per_item")
    """Ways the function may run a request's items, preferred first (`fnkit_build.serving`)."""
    optimizer: OptimizerDecl | None = None
    """Fused-graph candidates through onnxruntime's transformer optimizer (`fnkit_build.fused`)."""
    stack: StackSpec = field(default_factory=StackSpec)
    """What the SAM stack needs beyond the build (timeout, concurrency, SnapStart, alarm thresholds)."""
    repair: RepairSpec = field(default_factory=RepairSpec)
    """Whether and how far a failing int8 candidate is repaired (`fnkit_build.repair`)."""
    source: Path = Path("models.toml")
    """The registry file the entry came from (its folder is importable by the factory)."""


@dataclass(frozen=True)
class Registry:
    path: Path
    models: dict[str, ModelSpec]

    def select(self, names: Sequence[str]) -> list[ModelSpec]:
        """The named models in the given order, or all of them in file order when `names` is empty."""
        if not names:
            return list(self.models.values())
        unknown = [name for name in names if name not in self.models]
        if unknown:
            raise UnknownModelError(
                f"unknown model {', '.join(repr(n) for n in unknown)}: registry {self.path} declares "
                f"{', '.join(self.models) or 'no models'}. Check the spelling, or pass --registry PATH."
            )
        return [self.models[name] for name in dict.fromkeys(names)]


class _Entry:
    """Typed reads from one model's table; every failure names file, model and field."""

    def __init__(self, path: Path, model: str, table: Mapping[str, Any]) -> None:
        self.path, self.model, self.table = path, model, table

    def fail(self, key: str, problem: str) -> RegistryError:
        return RegistryError(f"registry {self.path}: model {self.model!r}: field {key!r}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        value = _dig(self.table, key)
        if value is None:
            if default is None:
                raise self.fail(key, "is required")
            return default
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.fail(key, f"must be a number, not {value!r}")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(key, f"must be {names}, not {type(value).__name__} {value!r}")
        return value

    def choice(self, key: str, allowed: Iterable[str], default: str | None = None) -> str:
        value: str = self.get(key, str, default)
        if value not in allowed:
            raise self.fail(key, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def member(self, key: str, kind: type[_Word]) -> _Word:
        """A string field as its vocabulary enum; the message lists the allowed values."""
        return kind(self.choice(key, values(kind)))

    def number(self, key: str, low: float, high: float, default: float | None = None) -> float:
        value = float(self.get(key, (int, float), default))
        if not low <= value <= high:
            raise self.fail(key, f"{value} is outside [{low}, {high}]")
        return value

    def keys(self, key: str, allowed: Iterable[str]) -> None:
        table = _dig(self.table, key) if key else self.table
        extra = sorted(set(table) - set(allowed)) if isinstance(table, Mapping) else []
        if extra:
            raise self.fail(f"{key}.{extra[0]}" if key else extra[0], "is not a known field")


def _dig(table: Mapping[str, Any], dotted: str) -> Any:
    value: Any = table
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def load_registry(path: Path) -> Registry:
    """Parse and validate a registry file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RegistryError(f"registry {path} does not exist; pass --registry PATH") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"registry {path} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"registry {path} is not valid TOML: {exc}") from exc
    extra = sorted(set(data) - {"models"})
    if extra:
        raise RegistryError(f"registry {path}: unknown top-level table {extra[0]!r}; expected [models.NAME]")
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise RegistryError(f"registry {path} declares no models; add a [models.NAME] table")
    specs = {}
    for name, table in models.items():
        if not isinstance(table, dict):
            raise RegistryError(f"registry {path}: model {name!r} must be a table, not {table!r}")
        specs[name] = _model(_Entry(path, name, table))
    _check_unique_prefixes(path, specs)
    return Registry(path=path, models=specs)


def _check_unique_prefixes(path: Path, specs: Mapping[str, ModelSpec]) -> None:
    """Two models must not map to the same CloudFormation logical ids (`a-b` and `a-B` would)."""
    seen: dict[str, str] = {}
    for name in specs:
        prefix = logical_prefix(name).lower()
        if prefix in seen:
            raise RegistryError(
                f"registry {path}: model {name!r}: field 'name': its stack resources would collide with "
                f"model {seen[prefix]!r}'s ({logical_prefix(name)}Function); rename one"
            )
        seen[prefix] = name


def _model(entry: _Entry) -> ModelSpec:
    entry.keys("", _MODEL_KEYS)
    check_model_name(entry)
    for key in _REQUIRED:
        if key not in entry.table:
            raise entry.fail(key, "is required")
    factory = entry.get("factory", str)
    if factory.count(":") != 1 or not all(part.strip() for part in factory.split(":")):
        raise entry.fail("factory", f"{factory!r} must be 'package.module:function'")
    task = entry.member("task", Task)
    inputs = _tensors(entry, "inputs")
    outputs = _tensors(entry, "outputs")
    shared = sorted({t.name for t in inputs} & {t.name for t in outputs})
    if shared:
        raise entry.fail(f"outputs.{shared[0]}", "has the name of an input; graph names must be unique")
    text = _text(entry, inputs)
    quantization = _quantization(entry)
    execution = executions(entry, text is not None)
    if text is not None and "batch" not in execution:
        per_token = [t.name for t in outputs if set(t.dynamic_axes.values()) - {"batch"}]
        if per_token:
            raise entry.fail(
                "execution",
                f"{list(execution)} runs items of different lengths in separate calls, but output "
                f"{per_token[0]!r} has a dynamic axis besides batch; use execution = ['batch']",
            )
    return ModelSpec(
        name=entry.model,
        factory=factory,
        factory_args=dict(entry.get("factory_args", dict, {})),
        task=task,
        inputs=inputs,
        outputs=outputs,
        tolerance=_tolerance(entry),
        gate=_gate(entry, task),
        function=_function(entry),
        quantization=quantization,
        labels=_labels(entry, task, outputs),
        limits=_limits(entry),
        text=text,
        execution=execution,
        optimizer=optimizer(entry, quantization),
        stack=stack_spec(entry),
        repair=repair_spec(entry),
        source=entry.path,
    )


def _tensors(entry: _Entry, key: str) -> tuple[TensorSpec, ...]:
    table = entry.get(key, dict)
    if not table:
        raise entry.fail(key, "declares no tensors")
    result = []
    for name in table:
        where = f"{key}.{name}"
        entry.keys(where, ("dtype", "shape"))
        dtype = entry.choice(f"{where}.dtype", GRAPH_DTYPES)
        shape = entry.get(f"{where}.shape", list)
        for dim in shape:
            ok_int = isinstance(dim, int) and not isinstance(dim, bool) and dim > 0
            if not ok_int and not (isinstance(dim, str) and AXIS_NAME.match(dim)):
                raise entry.fail(
                    f"{where}.shape",
                    f"dimension {dim!r} is neither a positive int nor a dynamic axis name (an identifier)",
                )
        if not shape or shape[0] != BATCH_AXIS:
            raise entry.fail(f"{where}.shape", f"{shape!r} must start with the dynamic axis 'batch'")
        named = [dim for dim in shape if isinstance(dim, str)]
        if len(named) != len(set(named)):
            raise entry.fail(f"{where}.shape", f"{shape!r} names a dynamic axis twice")
        result.append(TensorSpec(name=name, dtype=dtype, shape=list(shape)))
    return tuple(result)


def _tolerance(entry: _Entry) -> Tolerance:
    entry.keys("tolerance", ("atol", "rtol"))
    return Tolerance(atol=entry.number("tolerance.atol", 0, 1), rtol=entry.number("tolerance.rtol", 0, 1))


def _gate(entry: _Entry, task: Task) -> GateSpec:
    entry.keys("gate", ("metric", "threshold", "same_nearest_neighbour", "max_size_ratio"))
    metric = entry.member("gate.metric", Metric)
    if metric is Metric.ACCURACY_DROP and task != Task.CLASSIFICATION:
        raise entry.fail("gate.metric", f"accuracy_drop needs task 'classification', not {task!r}")
    ratio = _dig(entry.table, "gate.max_size_ratio")
    return GateSpec(
        metric=metric,
        threshold=entry.number("gate.threshold", 0, metric.max_threshold),
        same_nearest_neighbour=entry.get("gate.same_nearest_neighbour", bool, False),
        max_size_ratio=None if ratio is None else entry.number("gate.max_size_ratio", 0.01, 1),
    )


def _function(entry: _Entry) -> FunctionDecl:
    entry.keys("function", FUNCTION_KEYS)
    memory = entry.get("function.memory_mb", int)
    if not memory_in_range(memory):
        raise entry.fail("function.memory_mb", f"{memory} is outside {MEMORY_RANGE}")
    architecture = entry.member("function.architecture", Architecture)
    return FunctionDecl(memory_mb=memory, architecture=architecture, cpus=_cpus(entry, architecture))


def _cpus(entry: _Entry, architecture: str) -> tuple[str, ...]:
    names = entry.get("function.cpus", list, list(DEFAULT_CPUS[architecture]))
    if not names:
        raise entry.fail("function.cpus", "names no CPU class; omit it for the architecture's default")
    for name in names:
        known = CPU_CLASSES.get(name) if isinstance(name, str) else None
        if known is None:
            raise entry.fail("function.cpus", f"{name!r} is not one of {', '.join(CPU_CLASSES)}")
        if known.architecture != architecture:
            raise entry.fail(
                "function.cpus", f"{name!r} is an {known.architecture} class, not {architecture}"
            )
    if len(set(names)) != len(names):
        raise entry.fail("function.cpus", f"{names!r} lists a class twice")
    return tuple(names)


def _quantization(entry: _Entry) -> tuple[Candidate, ...]:
    names = entry.get("quantization", list, [])
    for name in names:
        if name not in QUANTIZATION_CANDIDATES:
            raise entry.fail("quantization", f"{name!r} is not one of {', '.join(QUANTIZATION_CANDIDATES)}")
    if len(set(names)) != len(names):
        raise entry.fail("quantization", f"{names!r} lists a candidate twice")
    return tuple(Candidate(name) for name in names)


def _labels(entry: _Entry, task: Task, outputs: tuple[TensorSpec, ...]) -> tuple[str, ...] | None:
    labels = entry.get("labels", list, []) or None
    if task != Task.CLASSIFICATION:
        if labels:
            raise entry.fail("labels", f"only classification models have labels, not {task!r}")
        return None
    if not labels or not all(isinstance(label, str) for label in labels):
        raise entry.fail("labels", "a classification model needs a list of label strings")
    classes = outputs[0].shape[-1]
    if isinstance(classes, int) and classes != len(labels):
        raise entry.fail(
            "labels", f"{len(labels)} labels for output {outputs[0].name!r} with {classes} classes"
        )
    return tuple(labels)


def _limits(entry: _Entry) -> Limits:
    fields = ("max_batch", "max_body_bytes", "max_text_chars")
    entry.keys("limits", (*fields, "allow_non_finite"))
    values = {key: entry.get(f"limits.{key}", int, getattr(Limits, key)) for key in fields}
    for key, value in values.items():
        if value <= 0:
            raise entry.fail(f"limits.{key}", f"{value} is not positive")
    allow = entry.get("limits.allow_non_finite", bool, False)
    return Limits(**values, allow_non_finite=allow)


def _text(entry: _Entry, inputs: tuple[TensorSpec, ...]) -> TextSpec | None:
    if "text" not in entry.table:
        return None
    entry.keys("text", ("tokenizer_file", "max_length", "graph_inputs", "on_overflow"))
    graph_inputs = tuple(entry.get("text.graph_inputs", list))
    declared = [tensor.name for tensor in inputs]
    if sorted(graph_inputs) != sorted(declared):
        raise entry.fail(
            "text.graph_inputs", f"{list(graph_inputs)} must name the declared inputs {declared}"
        )
    unknown = [name for name in graph_inputs if name not in TEXT_GRAPH_INPUTS]
    if unknown:
        raise entry.fail(
            "text.graph_inputs",
            f"{unknown} cannot be filled from a tokenizer; use {', '.join(TEXT_GRAPH_INPUTS)}",
        )
    for tensor in inputs:
        where = f"inputs.{tensor.name}"
        if tensor.shape != ["batch", "sequence"]:
            raise entry.fail(
                f"{where}.shape", f"{list(tensor.shape)}: a token input must be ['batch', 'sequence']"
            )
        if tensor.dtype not in TOKEN_DTYPES:
            raise entry.fail(f"{where}.dtype", f"{tensor.dtype!r}: a token input must be int64 or int32")
    max_length = entry.get("text.max_length", int)
    if max_length <= 1:
        raise entry.fail("text.max_length", f"{max_length} must be > 1")
    tokenizer_file = entry.get("text.tokenizer_file", str)
    if Path(tokenizer_file).name != tokenizer_file or tokenizer_file in ("", ".", "..", *RESERVED_FILES):
        raise entry.fail(
            "text.tokenizer_file",
            f"{tokenizer_file!r} must be a plain file name other than {', '.join(RESERVED_FILES)}",
        )
    on_overflow = entry.choice("text.on_overflow", OVERFLOW_RULES, OVERFLOW_REJECT)
    return TextSpec(tokenizer_file, max_length, list(graph_inputs), on_overflow=on_overflow)
