"""Running a helper process whose failure is an error of ours: its stderr's last lines go in the message."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any


def run_checked(
    command: Sequence[str],
    error: type[Exception],
    failed: str,
    *,
    tail_lines: int = 12,
    **options: Any,
) -> subprocess.CompletedProcess[str]:
    """Run `command` with stderr captured as text; a non-zero exit raises `error`.

    The message is `failed`, the exit code and the last `tail_lines` lines of stderr. `options`
    go to `subprocess.run` (stdout is captured too unless they redirect it).
    """
    options.setdefault("stdout", subprocess.PIPE)
    completed = subprocess.run(
        list(command),
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        check=False,
        **options,
    )
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-tail_lines:])
        raise error(f"{failed} (exit {completed.returncode}):\n{tail}")
    return completed
