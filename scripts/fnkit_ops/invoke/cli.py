"""`fnkit invoke MODEL --event FILE ...`: run a built function locally under awslambdaric.

Assembles the task root as the Dockerfile does and runs it with the environment and timeout of the
rendered template, in an isolated process, under AWS's Runtime Interface Emulator (`--emulator rie`,
the default: what `sam local invoke` runs inside the container) or fnkit's own Runtime API
(`--emulator fnkit`: peak RSS, the cold/warm split). An arm64 function on an x86_64 host runs
under the arm64 emulator in an arm64 root under qemu (`-cpu neoverse-n1`; needs root and
qemu-user-static; slow); `--emulator fnkit` runs any function on the host's CPU. Sends the events
(in order, `--repeat` times, to one warm process) and prints each response with its REPORT line.
The function's own logs go to stderr (`--quiet` hides them).

Exit codes: 0 when every invocation succeeded; 1 when any returned a function error (an unhandled
exception, a crash or a timeout), when the peak memory exceeded the memory size (Lambda would end
the function; measured under `--emulator fnkit` only), or when init failed; 2 for usage errors
(unknown or unbuilt model, bad event file, no emulator binary reachable).
An HTTP error response (e.g. a 400 for a bad request) is a successful invocation.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fnkit_runtime.vocabulary import MEMORY_RANGE, memory_in_range

from fnkit_ops.exceptions import UsageError

if TYPE_CHECKING:
    from fnkit_ops.invoke.cpu import FunctionCpu
    from fnkit_ops.invoke.process import FunctionConfig, OutputSink
    from fnkit_ops.invoke.report import InvocationResult
    from fnkit_ops.invoke.rie_binary import RieBinary
    from fnkit_ops.invoke.runner import RunResult
    from fnkit_ops.invoke.taskroot import TaskRoot

from fnkit_build.progress import Progress
from fnkit_build.project import add_registry_argument, artifacts_dir

from fnkit_ops.invoke.constants import DEFAULT_TIMEOUT_S, Emulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name from the registry (built by `fnkit build`)")
    parser.add_argument(
        "--event",
        dest="events",
        action="append",
        required=True,
        metavar="FILE",
        help="event JSON file (repeatable; all go to one warm process), e.g. events/digits-http-api.json",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N", help="send the events N times (default 1)"
    )
    add_registry_argument(parser, "; its built models are found beside it")
    parser.add_argument(
        "--artifacts",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder holding <model>/model/ (fnkit build --out; default: functions/ beside the registry)",
    )
    parser.add_argument(
        "--memory",
        type=int,
        metavar="MB",
        help="function memory size (default: the manifest's function.memory_mb)",
    )
    parser.add_argument(
        "--task-root",
        type=Path,
        metavar="DIR",
        help="where to assemble the task root (default .fnkit-cache/)",
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="K=V", help="extra environment variable (repeatable)"
    )
    parser.add_argument(
        "--emulator",
        choices=[e.value for e in Emulator],
        default=None,
        help="rie (default): AWS's Runtime Interface Emulator, from the SAM CLI wheel (cached in "
        ".fnkit-cache/rie/); fnkit: fnkit's own Runtime API, which also measures peak RSS and splits "
        "cold from warm (and the only one with SnapStart's restore endpoints: --snapstart uses it)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="function timeout (default: the template's Timeout for the model, else 30 s; "
        "the emulator takes whole seconds, rounded up)",
    )
    parser.add_argument("--no-trim", action="store_true", help="keep what functions/trim.py would remove")
    parser.add_argument(
        "--snapstart",
        action="store_true",
        help="emulate SnapStart's lifecycle: model loaded at init, before-snapshot hooks, /restore/next, "
        "after-restore hooks, then the events (no snapshot is taken: restore latency is AWS-only)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true", help="do not show the function's logs")
    output.add_argument(
        "--json", action="store_true", help="print one JSON document (logs included) on stdout"
    )


def _parse_env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--env expects NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def _read_events(paths: list[str]) -> list[tuple[str, Any]]:
    from fnkit_ops.events import read_event

    return [(raw, read_event(Path(raw))) for raw in paths]


def _check_args(args: argparse.Namespace) -> None:
    if args.repeat < 1:
        raise UsageError("--repeat must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if args.memory is not None and not memory_in_range(args.memory):
        raise UsageError(f"--memory {args.memory} is outside {MEMORY_RANGE}")


def run(args: argparse.Namespace) -> int:
    from fnkit_ops.invoke.function import (
        assemble_function,
        function_config,
        locate_built_model,
        template_settings,
    )
    from fnkit_ops.invoke.taskroot import cache_dir

    _check_args(args)
    emulator = _emulator_of(args)
    extra_env = _parse_env(args.env)
    events = _read_events(args.events) * args.repeat
    built = locate_built_model(args.model, artifacts_dir(args.registry, args.artifacts))
    say = Progress("invoke", quiet=args.quiet or args.json)
    settings = template_settings(args.registry, args.model)
    if settings is None:
        say(f"{args.model} is not in {args.registry}: the template's Environment is not applied")
    architecture = settings.architecture if settings else built.manifest.function.architecture
    # where it runs is settled before anything is assembled or started (an arm64 root is built here)
    cpu = _function_cpu(architecture) if emulator is Emulator.RIE else None
    binary = _emulator_binary(architecture) if emulator is Emulator.RIE else None
    timeout_s = args.timeout or (settings.timeout_s if settings else DEFAULT_TIMEOUT_S)
    env = {**(settings.env if settings else {}), **extra_env}
    dest = args.task_root or cache_dir() / "task-roots" / args.model
    say(f"assembling task root in {dest} ...")
    root = assemble_function(built, dest, trim=not args.no_trim, wheels=cpu.wheels() if cpu else ())
    say(
        f"task root: {root.total_bytes / 1e6:.1f} MB "
        f"(dependencies {root.deps_bytes / 1e6:.1f} MB, trimmed {root.trimmed_bytes / 1e6:.1f} MB)"
    )
    config = dataclasses.replace(function_config(built, args.memory, env), snapstart=args.snapstart)
    sink = None if say.quiet else _passthrough(say)
    payloads = [event for _, event in events]
    result = _execute(binary, cpu, root.path, payloads, config, timeout_s=timeout_s, sink=sink, say=say)
    names = [name for name, _ in events]
    failures = [r for r in result.invocations if not r.ok]
    measured = emulator is Emulator.FNKIT  # the RIE's Max Memory Used is the memory size, not a reading
    over = [r for r in result.invocations if measured and r.max_memory_used_mb > r.memory_size_mb]
    if args.json:
        document = _json_document(args.model, root, result, names)
        document["emulator"] = {
            "name": emulator.value,
            **({"binary": str(binary.path), "sha256": binary.sha256} if binary else {}),
            **({"cpu": cpu.how, "architecture": cpu.architecture} if cpu else {}),
        }
        print(json.dumps(document, indent=2))
    else:
        _print_results(result, names)
    if binary is not None:
        say(
            "the emulator's Max Memory Used is the memory size, not a reading; "
            "`--emulator fnkit` measures peak RSS and splits cold start from warm"
        )
    for failure in failures:
        say.error(f"{failure.request_id or 'invocation'}: {describe_failure(failure)}")
    if failures:
        say.error(f"{len(failures)} of {len(result.invocations)} invocations returned a function error")
    if over:
        say.error(
            f"max memory used exceeded the memory size of {config.memory_mb} MB; "
            "Lambda would end the function"
        )
    return 1 if failures or over else 0


def _emulator_of(args: argparse.Namespace) -> Emulator:
    """AWS's emulator by default; fnkit's Runtime API for --snapstart (the emulator has no
    /restore/next), where asking for the emulator is a usage error."""
    if args.snapstart:
        if args.emulator == Emulator.RIE.value:
            raise UsageError(
                "--snapstart runs on fnkit's Runtime API (--emulator fnkit): AWS's emulator has no "
                "SnapStart restore endpoints"
            )
        return Emulator.FNKIT
    return Emulator(args.emulator or Emulator.RIE.value)


def _execute(
    binary: RieBinary | None,
    cpu: FunctionCpu | None,
    task_root: Path,
    payloads: list[Any],
    config: FunctionConfig,
    *,
    timeout_s: float,
    sink: OutputSink | None,
    say: Progress,
) -> RunResult:
    """The events under AWS's emulator when a binary is given, else under fnkit's own Runtime API."""
    from fnkit_ops.invoke.runner import invoke_all, run_invocations

    if binary is not None:
        from fnkit_ops.invoke.rie import RieFunction

        say(f"running under AWS's Runtime Interface Emulator {binary.path} (sha256 {binary.sha256[:12]})")
        if cpu is not None and cpu.emulated:
            say(f"{cpu.architecture} on {cpu.how}: emulated, slow (a cold start takes seconds)")
        rie = RieFunction(binary, task_root, config, timeout_s=timeout_s, sink=sink, cpu=cpu)
        return invoke_all(rie, payloads)
    say("running under fnkit's own Runtime API")
    return run_invocations(task_root, payloads, config, timeout_s=timeout_s, sink=sink)


def _function_cpu(architecture: str) -> FunctionCpu:
    from fnkit_ops.invoke.cpu import function_cpu

    return function_cpu(architecture)


def _passthrough(say: Progress) -> OutputSink:
    """The function's output lines (stdout and stderr alike) through the progress sink."""
    return lambda _stream, line: say.passthrough(line)


def _emulator_binary(architecture: str) -> RieBinary:
    from fnkit_ops.invoke.rie_binary import ensure_binary

    return ensure_binary(architecture)


def describe_failure(result: InvocationResult) -> str:
    """One line about a failed invocation: the error type and message, however the emulator shaped it."""
    from fnkit_ops.invoke.runner import describe_error

    if result.error_type == "Sandbox.Timedout" and result.response() is None:
        return f"Sandbox.Timedout: {result.body.decode(errors='replace').strip()}"
    return describe_error(result)


def _print_results(result: RunResult, names: list[str]) -> None:
    for name, invocation in zip(names, result.invocations, strict=True):
        print(f"# {name}{' (cold)' if invocation.cold else ''}")
        response = invocation.response()
        print(
            json.dumps(response, indent=2)
            if response is not None
            else invocation.body.decode(errors="replace")
        )
        print(invocation.report_line(), flush=True)
    summary = _summary(result)
    if summary:
        print(summary)


def _summary(result: RunResult) -> str:
    warm = [r.duration_ms for r in result.invocations if not r.cold and r.ok]
    parts = [
        f"cold start: init {c.init_ms:.1f} ms + first invocation {c.first_invoke_ms:.1f} ms "
        f"= {c.total_ms:.1f} ms"
        + (
            ""
            if c.snapshot_ms is None
            else f" (SnapStart: snapshot point after {c.snapshot_ms:.1f} ms; no restore is emulated)"
        )
        for c in result.cold_starts
    ]
    if warm:
        parts.append(f"warm: median {statistics.median(warm):.2f} ms over {len(warm)} invocations")
    return "\n".join(parts)


def _json_document(model: str, root: TaskRoot, result: RunResult, names: list[str]) -> dict[str, Any]:
    return {
        "model": model,
        "task_root": {
            "path": str(root.path),
            "bytes": root.total_bytes,
            "dependency_bytes": root.deps_bytes,
            "trimmed_bytes": root.trimmed_bytes,
        },
        "invocations": [
            {
                "event": name,
                "request_id": r.request_id,
                "ok": r.ok,
                "error_type": r.error_type,
                "response": r.response(),
                "cold": r.cold,
                "init_ms": r.init_ms,
                "duration_ms": r.duration_ms,
                "billed_ms": r.billed_ms,
                "memory_size_mb": r.memory_size_mb,
                "max_memory_used_mb": r.max_memory_used_mb,
                "report": r.report_line(),
            }
            for name, r in zip(names, result.invocations, strict=True)
        ],
        "cold_starts": [asdict(c) for c in result.cold_starts],
        "logs": [{"stream": s, "line": line} for s, line in result.log.lines],
    }
