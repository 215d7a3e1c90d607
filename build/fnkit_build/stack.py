"""What the SAM stack needs per model beyond the build: the registry's deploy knobs, validated.

Read from the model's `function` table (timeout, concurrency, SnapStart, X-Ray tracing) and its `alarms` table
(thresholds of the per-version alarms). `fnkit render` turns them into template properties; a value
Lambda or CloudFormation would refuse is a registry error here, before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fnkit_runtime.vocabulary import API_TIMEOUT_S, MAX_TIMEOUT_S

if TYPE_CHECKING:
    from fnkit_build.registry import _Entry

MODEL_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
"""A model name is a route segment, part of the function's log group and image tag, and (CamelCased)
the prefix of its CloudFormation logical ids: lower-case letters, digits and dashes, 40 at most."""
SNAPSTART_MIN_PYTHON = (3, 12)
"""SnapStart for Python needs the Lambda Python 3.12+ base image (the shared Dockerfile's)."""
FUNCTION_KEYS = (
    "memory_mb",
    "architecture",
    "cpus",
    "timeout_s",
    "reserved_concurrency",
    "provisioned_concurrency",
    "snapstart",
    "tracing",
)


@dataclass(frozen=True)
class AlarmThresholds:
    """When a published version's alarms fire (its own traffic through `live`)."""

    error_rate_percent: float = 1.0
    """Lambda errors + 5xx answers, % of the version's invocations."""
    duration_p99_ms: float = 3000.0
    """p99 of Lambda's Duration."""
    inference_p99_ms: float = 1000.0
    """p99 of the EMF InferenceTime (model work only)."""


@dataclass(frozen=True)
class StackSpec:
    timeout_s: int = API_TIMEOUT_S
    reserved_concurrency: int | None = None
    provisioned_concurrency: int | None = None
    snapstart: bool = False
    alarms: AlarmThresholds = field(default_factory=AlarmThresholds)
    tracing: bool = False
    """X-Ray `Active` tracing of the function (its role may then write traces); off: `PassThrough`."""

    @property
    def load_at_init(self) -> bool:
        """Provisioned and SnapStart environments are made before traffic: load the model in init."""
        return self.snapstart or self.provisioned_concurrency is not None


def logical_prefix(model: str) -> str:
    """`minilm` -> `Minilm`, `my-model-2` -> `MyModel2`: the prefix of the model's logical ids."""
    return "".join(part[:1].upper() + part[1:] for part in model.split("-"))


def check_model_name(entry: _Entry) -> None:
    if not MODEL_NAME.match(entry.model):
        raise entry.fail(
            "name",
            f"{entry.model!r} must be lower-case letters, digits and dashes, start with a letter and "
            "be at most 40 characters (it names the route, log group and CloudFormation resources)",
        )


def stack_spec(entry: _Entry, python: tuple[int, int] = SNAPSTART_MIN_PYTHON) -> StackSpec:
    """The deploy knobs of one model; `python` is the base image's version (SnapStart needs 3.12+)."""
    timeout = entry.get("function.timeout_s", int, API_TIMEOUT_S)
    if not 1 <= timeout <= MAX_TIMEOUT_S:
        raise entry.fail("function.timeout_s", f"{timeout} is outside Lambda's 1-{MAX_TIMEOUT_S} s")
    reserved = _optional_count(entry, "function.reserved_concurrency")
    provisioned = _optional_count(entry, "function.provisioned_concurrency")
    snapstart = entry.get("function.snapstart", bool, False)
    if snapstart and provisioned is not None:
        raise entry.fail(
            "function.snapstart", "SnapStart cannot be combined with provisioned_concurrency; choose one"
        )
    if snapstart and python < SNAPSTART_MIN_PYTHON:
        raise entry.fail("function.snapstart", f"SnapStart needs Python 3.12+, the image has {python}")
    if reserved is not None and provisioned is not None and provisioned > reserved:
        raise entry.fail(
            "function.provisioned_concurrency",
            f"{provisioned} is more than reserved_concurrency {reserved}",
        )
    tracing = entry.get("function.tracing", bool, False)
    return StackSpec(timeout, reserved, provisioned, snapstart, _alarms(entry), tracing)


def _optional_count(entry: _Entry, key: str) -> int | None:
    section, _, name = key.partition(".")
    table = entry.table.get(section)
    if not isinstance(table, dict) or table.get(name) is None:
        return None
    value: int = entry.get(key, int)
    if not 1 <= value <= 10_000:
        raise entry.fail(key, f"{value} is outside 1-10000")
    return value


def _alarms(entry: _Entry) -> AlarmThresholds:
    entry.keys("alarms", ("error_rate_percent", "duration_p99_ms", "inference_p99_ms"))
    defaults = AlarmThresholds()
    return AlarmThresholds(
        error_rate_percent=entry.number("alarms.error_rate_percent", 0, 100, defaults.error_rate_percent),
        duration_p99_ms=entry.number(
            "alarms.duration_p99_ms", 1, MAX_TIMEOUT_S * 1000, defaults.duration_p99_ms
        ),
        inference_p99_ms=entry.number(
            "alarms.inference_p99_ms", 1, MAX_TIMEOUT_S * 1000, defaults.inference_p99_ms
        ),
    )
