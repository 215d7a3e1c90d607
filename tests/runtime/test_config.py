"""RuntimeConfig from the environment: threads from memory, flags, limit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from fnkit_runtime.config import RuntimeConfig, prefetch_requested, threads_for_memory
from fnkit_runtime.exceptions import ConfigError
from fnkit_runtime.manifest import Limits


@pytest.mark.parametrize(
    ("memory_mb", "threads"),
    [
        pytest.param(None, 1, id="unknown"),
        pytest.param(128, 1, id="128"),
        pytest.param(1024, 1, id="1024"),
        pytest.param(2048, 1, id="2048"),
        pytest.param(3008, 2, id="3008"),
        pytest.param(5307, 3, id="5307"),
        pytest.param(8845, 5, id="8845"),
        pytest.param(10240, 6, id="10240-max"),
    ],
)
def test_threads_follow_lambda_vcpu_share(memory_mb, threads):
    # GIVEN a function memory size / WHEN threads are derived / THEN one per 1,769 MB, rounded, 1..6
    assert threads_for_memory(memory_mb) == threads


def test_config_reads_the_environment():
    # GIVEN a full environment
    env = {
        "FNKIT_MODEL_NAME": "digits",
        "FNKIT_MODEL_DIR": "/somewhere/model",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "10240",
        "FNKIT_LOAD_AT_INIT": "true",
        "FNKIT_PROFILE": "0",
        "FNKIT_MAX_BATCH": "8",
    }

    # WHEN it is read
    config = RuntimeConfig.from_env(env)

    # THEN every field has the environment's value
    assert config.model_name == "digits"
    assert config.model_dir == Path("/somewhere/model")
    assert config.intra_op_threads == 6
    assert config.inter_op_threads == 1
    assert config.load_at_init is True
    assert config.profile is False
    assert config.limits(Limits(max_batch=64, max_text_chars=100)) == Limits(max_batch=8, max_text_chars=100)


def test_model_dir_defaults_to_the_task_root():
    # GIVEN Lambda's task root and no FNKIT_MODEL_DIR
    config = RuntimeConfig.from_env({"FNKIT_MODEL_NAME": "digits", "LAMBDA_TASK_ROOT": "/var/task"})

    # THEN the model is read from $LAMBDA_TASK_ROOT/model
    assert config.model_dir == Path("/var/task/model")


def test_thread_override_wins_over_memory():
    config = RuntimeConfig.from_env(
        {"FNKIT_MODEL_NAME": "m", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "FNKIT_INTRA_OP_THREADS": "3"}
    )
    assert config.intra_op_threads == 3


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="no-model-name"),
        pytest.param({"FNKIT_MODEL_NAME": "m", "FNKIT_MAX_BATCH": "lots"}, id="not-an-int"),
        pytest.param({"FNKIT_MODEL_NAME": "m", "FNKIT_MAX_BODY_BYTES": "-1"}, id="negative"),
        pytest.param({"FNKIT_MODEL_NAME": "m", "FNKIT_PROFILE": "maybe"}, id="bad-flag"),
    ],
)
def test_bad_environment_is_a_config_error(env):
    with pytest.raises(ConfigError):
        RuntimeConfig.from_env(env)


def test_config_error_is_a_500_without_details(harness, monkeypatch):
    # GIVEN a function with a malformed limit override
    monkeypatch.setenv("FNKIT_MODEL_NAME", "digits")
    monkeypatch.setenv("FNKIT_MAX_BATCH", "lots")

    # WHEN invoked
    answer = harness.invoke({"inputs": [[1.0]]})

    # THEN the client gets a 500 ConfigError with no variable names or values
    assert answer["status"] == 500 and answer["error"] == "ConfigError"
    assert "FNKIT" not in answer["message"] and "lots" not in answer["message"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}, True),
        ({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "FNKIT_PREFETCH": "false"}, False),
        ({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "FNKIT_LOAD_AT_INIT": "true"}, False),
        ({"FNKIT_PREFETCH": "true"}, False),  # no runtime client: in-process use never prefetches
        ({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "FNKIT_PREFETCH": "maybe"}, False),
    ],
    ids=["runtime", "off", "load-at-init", "no-runtime", "malformed"],
)
def test_prefetch_is_requested_only_under_a_runtime_and_never_raises(env, expected):
    assert prefetch_requested(env) is expected


def test_a_malformed_prefetch_value_is_the_first_invocations_config_error():
    # GIVEN FNKIT_PREFETCH that is neither true nor false (prefetch_requested ignores it at import)
    env = {"FNKIT_MODEL_NAME": "digits", "FNKIT_PREFETCH": "maybe"}

    # WHEN the configuration is read (the first invocation does)
    # THEN it is a ConfigError naming the variable
    with pytest.raises(ConfigError, match="FNKIT_PREFETCH"):
        RuntimeConfig.from_env(env)
