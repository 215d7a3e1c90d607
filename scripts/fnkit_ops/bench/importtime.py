"""Where a variant's import time goes: `python -X importtime` in its task root, summed per package.

Run as the function runs (the base interpreter, `-s -S`, the Lambda environment, the task root on
PYTHONPATH), importing the runtime client and the handler module, as awslambdaric does at init. Each
module's *self* time is added to its top-level package; modules outside the task root count as the
standard library. A handler that loads its model at import (the floor) shows that load in its own
row. Medians over `IMPORT_TIME_RUNS` fresh processes.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path

from fnkit_ops.bench import constants as k
from fnkit_ops.bench.exceptions import BenchError
from fnkit_ops.bench.results import ImportRow
from fnkit_ops.invoke.process import FunctionConfig, base_python, lambda_environment
from fnkit_ops.subprocesses import run_checked

_LINE = re.compile(r"^import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)\s*$")
STDLIB = "standard library"
_NO_RUNTIME_API = "127.0.0.1:9"


def self_times(stderr: str, task_root: Path) -> dict[str, int]:
    """Self time (µs) per top-level package from `-X importtime` output."""
    totals: dict[str, int] = defaultdict(int)
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        root = match.group(2).split(".", 1)[0]
        in_task_root = (task_root / root).is_dir() or any(task_root.glob(f"{root}.*"))
        totals[root if in_task_root else STDLIB] += int(match.group(1))
    return dict(totals)


def _one_run(task_root: Path, config: FunctionConfig) -> dict[str, int]:
    module = config.handler.rsplit(".", 1)[0]
    completed = run_checked(
        [
            str(config.python or base_python()),
            "-s",
            "-S",
            "-X",
            "importtime",
            "-c",
            f"import awslambdaric.bootstrap, {module}",
        ],
        BenchError,
        f"{config.function_name}: importing {module} failed",
        tail_lines=8,
        cwd=task_root,
        env=lambda_environment(task_root.resolve(), _NO_RUNTIME_API, config),
        stdin=subprocess.DEVNULL,
    )
    return self_times(completed.stderr, task_root)


def import_table(variants: list[tuple[str, Path, FunctionConfig]]) -> list[ImportRow]:
    """Per variant and package, the median self time over fresh processes, largest first."""
    rows: list[ImportRow] = []
    for variant, task_root, config in variants:
        runs = [_one_run(task_root, config) for _ in range(k.IMPORT_TIME_RUNS)]
        packages = {name for run in runs for name in run}
        medians = {name: int(statistics.median(run.get(name, 0) for run in runs)) for name in packages}
        rows += [
            ImportRow(variant, name, us) for name, us in sorted(medians.items(), key=lambda item: -item[1])
        ]
    return rows
