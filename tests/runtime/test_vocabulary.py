"""The contract's vocabulary: stdlib only, written as plain strings, and the properties the parts use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from fnkit_ops.render import cfn
from fnkit_runtime.vocabulary import (
    MEMORY_MAX_MB,
    MEMORY_MIN_MB,
    QUANTIZATION_CANDIDATES,
    Architecture,
    Candidate,
    Metric,
    Task,
    architecture_of,
    memory_in_range,
)


def test_importing_the_vocabulary_loads_nothing_beyond_the_standard_library() -> None:
    # GIVEN a fresh interpreter that imports only the vocabulary
    code = (
        "import sys, json\nbefore = set(sys.modules)\nimport fnkit_runtime.vocabulary\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(json.dumps(sorted(new - set(sys.stdlib_module_names))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # THEN nothing outside the standard library was loaded but the runtime package itself
    assert json.loads(result.stdout) == ["fnkit_runtime"]


def test_words_serialize_as_their_plain_values() -> None:
    # GIVEN a document holding vocabulary members, as the manifest and the template do
    document = {"task": Task.EMBEDDING, "Architectures": [Architecture.ARM64], "variant": Candidate.FP32}
    # THEN JSON and the rendered template's YAML hold the plain strings, no enum tags
    plain = {"task": "embedding", "Architectures": ["arm64"], "variant": "fp32"}
    assert json.loads(json.dumps(document)) == plain
    text = cfn.dump(document)
    assert "!!python" not in text
    assert yaml.safe_load(text) == plain


@pytest.mark.parametrize(
    ("metric", "value", "threshold", "passes"),
    [
        (Metric.COSINE_MEAN, 0.995, 0.99, True),
        (Metric.COSINE_MEAN, 0.985, 0.99, False),
        (Metric.ACCURACY_DROP, 0.004, 0.005, True),
        (Metric.ACCURACY_DROP, 0.006, 0.005, False),
        (Metric.MAX_ABS_ERROR, 0.02, 0.01, False),
    ],
)
def test_metric_direction(metric: Metric, value: float, threshold: float, passes: bool) -> None:
    assert metric.passes(value, threshold) is passes
    assert (metric.operator == ">=") is metric.higher_is_better


def test_candidate_properties() -> None:
    assert [c.value for c in QUANTIZATION_CANDIDATES] == [
        "int8-static-qdq",
        "int8-dynamic",
        "int8-dynamic-per-channel",
    ]
    assert [c for c in Candidate if c.needs_calibration] == [Candidate.INT8_STATIC_QDQ]
    assert [c for c in Candidate if c.dynamic] == [Candidate.INT8_DYNAMIC, Candidate.INT8_DYNAMIC_PER_CHANNEL]
    assert not Candidate.INT8_DYNAMIC.per_channel and Candidate.INT8_DYNAMIC_PER_CHANNEL.per_channel
    assert Candidate("fp32").is_fp32 and not any(c.is_fp32 for c in QUANTIZATION_CANDIDATES)


@pytest.mark.parametrize(
    ("memory", "ok"),
    [(MEMORY_MIN_MB - 1, False), (MEMORY_MIN_MB, True), (MEMORY_MAX_MB, True), (MEMORY_MAX_MB + 1, False)],
)
def test_lambda_memory_bounds(memory: int, ok: bool) -> None:
    assert memory_in_range(memory) is ok


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        pytest.param("x86_64", Architecture.X86_64, id="linux-x86"),
        pytest.param("AMD64", Architecture.X86_64, id="windows-x86"),
        pytest.param("aarch64", Architecture.ARM64, id="linux-arm"),
        pytest.param("arm64", Architecture.ARM64, id="macos-arm"),
        pytest.param("RISCV64", "riscv64", id="no-lambda-architecture"),
    ],
)
def test_machine_names_map_to_lambda_architectures(machine: str, expected: str) -> None:
    # GIVEN a platform.machine() name / WHEN it is read in Lambda's words / THEN it is the architecture
    assert architecture_of(machine) == expected
