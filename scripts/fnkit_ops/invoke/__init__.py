"""`fnkit invoke`: a built function's task root run locally under awslambdaric, without Docker.

The public API below is what `fnkit bench` reuses for cold starts and footprints.
"""

from __future__ import annotations

from fnkit_ops.invoke.exceptions import (
    DependencyInstallError,
    EventFileError,
    FunctionInitError,
    ModelNotBuiltError,
    RuntimeApiError,
    TaskRootError,
)
from fnkit_ops.invoke.function import BuiltFunction, assemble_function, function_config, locate_built_model
from fnkit_ops.invoke.process import FunctionConfig, base_python
from fnkit_ops.invoke.report import InvocationResult, ReportLine, format_report_line, parse_report_line
from fnkit_ops.invoke.runner import (
    ColdStartResult,
    LocalFunction,
    RunResult,
    describe_error,
    invoke_all,
    run_invocations,
)
from fnkit_ops.invoke.runtime_api import RuntimeApiServer
from fnkit_ops.invoke.taskroot import (
    TaskRoot,
    assemble_task_root,
    cache_dir,
    dir_size_bytes,
    function_copies,
    install_dependencies,
    requirement_lines,
)

__all__ = [
    "BuiltFunction",
    "ColdStartResult",
    "DependencyInstallError",
    "EventFileError",
    "FunctionConfig",
    "FunctionInitError",
    "InvocationResult",
    "LocalFunction",
    "ModelNotBuiltError",
    "ReportLine",
    "RunResult",
    "RuntimeApiError",
    "RuntimeApiServer",
    "TaskRoot",
    "TaskRootError",
    "assemble_function",
    "assemble_task_root",
    "base_python",
    "cache_dir",
    "describe_error",
    "dir_size_bytes",
    "format_report_line",
    "function_config",
    "function_copies",
    "install_dependencies",
    "invoke_all",
    "locate_built_model",
    "parse_report_line",
    "requirement_lines",
    "run_invocations",
]
