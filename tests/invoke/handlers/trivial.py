"""A handler for the local runtime's own tests: standard library only, behaviour chosen by the event.

Copied into a temporary task root as `trivial.py`; handler path `trivial.handler`.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from typing import Any

from probes import importable

if os.environ.get("TRIVIAL_FAIL_INIT"):
    raise RuntimeError("init failed on purpose")

_STATE = {"invocations": 0}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _STATE["invocations"] += 1
    print(f"trivial handler got {sorted(event)}")
    if "raise" in event:
        raise ValueError(event["raise"])
    if "exit" in event:
        os._exit(int(event["exit"]))
    if "sleep" in event:
        time.sleep(float(event["sleep"]))
    return {
        "echo": event.get("echo"),
        "pid": os.getpid(),
        "invocations": _STATE["invocations"],
        "request_id": context.aws_request_id,
        "function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": {name: os.environ.get(name) for name in event.get("env", [])},
        "importable": {name: importable(name) for name in event.get("imports", [])},
        "sys_path": sys.path,
        "machine": platform.machine(),
        "flags": {"no_site": sys.flags.no_site, "no_user_site": sys.flags.no_user_site},
    }
