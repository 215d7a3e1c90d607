"""The runner: a fresh process under awslambdaric, warm reuse, errors, crashes, timeouts, REPORT figures."""

from __future__ import annotations

import dataclasses

import pytest
from fnkit_ops.invoke import (
    FunctionConfig,
    FunctionInitError,
    LocalFunction,
    TaskRoot,
    parse_report_line,
    run_invocations,
)


def test_several_events_share_one_warm_process(
    trivial_root: TaskRoot, trivial_config: FunctionConfig
) -> None:
    # GIVEN three events
    events = [{"echo": n} for n in range(3)]

    # WHEN they are invoked in one run
    result = run_invocations(trivial_root.path, events, trivial_config)

    # THEN every response comes back in order, from one process that kept its state
    responses = [r.response() for r in result.invocations]
    assert [r["echo"] for r in responses] == [0, 1, 2]
    assert len({r["pid"] for r in responses}) == 1
    assert [r["invocations"] for r in responses] == [1, 2, 3]
    # AND only the first invocation is cold, with one cold start recorded
    assert [r.cold for r in result.invocations] == [True, False, False]
    assert len(result.cold_starts) == 1
    cold = result.cold_starts[0]
    assert cold.init_ms > 0 and cold.total_ms >= cold.init_ms + cold.first_invoke_ms
    assert result.ok


def test_context_carries_request_id_arn_and_deadline(
    trivial_root: TaskRoot, trivial_config: FunctionConfig
) -> None:
    # WHEN one event is invoked with a 30 s timeout
    result = run_invocations(trivial_root.path, [{}], trivial_config, timeout_s=30)

    # THEN the handler's context saw the runtime API's headers
    invocation = result.invocations[0]
    response = invocation.response()
    assert response["request_id"] == invocation.request_id
    assert response["function_arn"] == trivial_config.arn
    assert 0 < response["remaining_ms"] <= 30_000


def test_lambda_environment_is_set(trivial_root: TaskRoot) -> None:
    # GIVEN a function configured with a model, memory size and an extra variable
    config = FunctionConfig(
        function_name="fnkit-digits",
        memory_mb=1024,
        model="digits",
        handler="trivial.handler",
        env={"POWERTOOLS_SERVICE_NAME": "digits"},
    )
    names = [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_REGION",
        "LAMBDA_TASK_ROOT",
        "FNKIT_MODEL_NAME",
        "POWERTOOLS_SERVICE_NAME",
        "VIRTUAL_ENV",
        "HOME",
    ]

    # WHEN the handler reports its environment
    response = run_invocations(trivial_root.path, [{"env": names}], config).invocations[0].response()

    # THEN it holds Lambda's variables and fnkit's, and nothing of the caller's shell
    assert response["env"] == {
        "AWS_LAMBDA_FUNCTION_NAME": "fnkit-digits",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(trivial_root.path.resolve()),
        "FNKIT_MODEL_NAME": "digits",
        "POWERTOOLS_SERVICE_NAME": "digits",
        "VIRTUAL_ENV": None,
        "HOME": None,
    }


def test_function_error_is_reported_and_the_process_stays_warm(
    trivial_root: TaskRoot, trivial_config: FunctionConfig
) -> None:
    # WHEN the handler raises, then a good event follows
    result = run_invocations(trivial_root.path, [{"raise": "boom"}, {"echo": 1}], config=trivial_config)

    # THEN the first is a function error with Lambda's error object
    failed, after = result.invocations
    assert not failed.ok
    assert failed.error_type == "ValueError"
    assert failed.response()["errorType"] == "ValueError"
    assert failed.response()["errorMessage"] == "boom"
    # AND the next one runs warm on the same process
    assert after.ok and not after.cold
    assert not result.ok
    # AND the traceback went to the function's logs
    assert "ValueError" in result.stdout + result.stderr


def test_crash_mid_invocation_starts_a_new_cold_process(
    trivial_root: TaskRoot, trivial_config: FunctionConfig
) -> None:
    # WHEN the process exits during an invocation, then another event arrives
    result = run_invocations(trivial_root.path, [{"echo": 0}, {"exit": 3}, {"echo": 2}], trivial_config)

    # THEN the crash is a Runtime.ExitError and the next event gets a fresh, cold process
    first, crashed, after = result.invocations
    assert not crashed.ok and crashed.error_type == "Runtime.ExitError"
    assert "exit status 3" in crashed.response()["errorMessage"]
    assert after.ok and after.cold
    assert after.response()["pid"] != first.response()["pid"]
    assert len(result.cold_starts) == 2


def test_timeout_ends_the_invocation(trivial_root: TaskRoot, trivial_config: FunctionConfig) -> None:
    # WHEN the handler runs past the function's timeout
    result = run_invocations(trivial_root.path, [{"sleep": 30}], trivial_config, timeout_s=0.5)

    # THEN the invocation fails as Lambda reports a timeout
    invocation = result.invocations[0]
    assert not invocation.ok
    assert invocation.error_type == "Sandbox.Timedout"
    assert invocation.response()["errorMessage"] == "Task timed out after 0.50 seconds"


def test_init_error_is_raised_with_the_message(
    trivial_root: TaskRoot, trivial_config: FunctionConfig
) -> None:
    # GIVEN a handler module that raises at import
    config = dataclasses.replace(trivial_config, env={"TRIVIAL_FAIL_INIT": "1"})

    # WHEN it is invoked, THEN the init error names the exception and shows the function's log
    with pytest.raises(FunctionInitError, match="RuntimeError: init failed on purpose"):
        run_invocations(trivial_root.path, [{}], config)


def test_missing_handler_module_is_an_init_error(
    trivial_root: TaskRoot, trivial_config: FunctionConfig
) -> None:
    # GIVEN a handler path that does not exist in the task root
    config = dataclasses.replace(trivial_config, handler="nowhere.handler")

    # WHEN it is invoked, THEN the init error is awslambdaric's import error
    with pytest.raises(FunctionInitError, match=r"Runtime\.ImportModuleError"):
        run_invocations(trivial_root.path, [{}], config)


def test_report_lines_carry_the_measured_figures(
    trivial_root: TaskRoot, trivial_config: FunctionConfig
) -> None:
    # WHEN two events run
    result = run_invocations(trivial_root.path, [{}, {}], trivial_config)

    # THEN each REPORT line parses back to the invocation's figures, Init Duration on the cold one only
    for invocation in result.invocations:
        report = parse_report_line(invocation.report_line())
        assert report.request_id == invocation.request_id
        assert report.memory_size_mb == 512
        assert report.max_memory_used_mb >= 1
        assert report.billed_ms >= report.duration_ms
    cold, warm = (parse_report_line(r.report_line()) for r in result.invocations)
    assert cold.init_ms is not None and cold.init_ms > 0
    assert warm.init_ms is None


def test_close_ends_the_process(trivial_root: TaskRoot, trivial_config: FunctionConfig) -> None:
    # GIVEN a warm function
    function = LocalFunction(trivial_root.path, trivial_config)
    pid = function.invoke({}).response()["pid"]

    # WHEN it is closed
    function.close()

    # THEN its process is gone
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)
