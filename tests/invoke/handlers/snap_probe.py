"""A SnapStart probe for the local runtime's tests: records the lifecycle it sees, in order.

Copied into a task root as `snap_probe.py`; handler `snap_probe.handler`. Registers one hook of each
kind with snapshot_restore_py (awslambdaric runs them under AWS_LAMBDA_INITIALIZATION_TYPE=snap-start);
SNAP_PROBE_FAIL=before|after makes that hook raise.
"""

from __future__ import annotations

import os
from typing import Any

from snapshot_restore_py import register_after_restore, register_before_snapshot

EVENTS = ["init"]


def _before() -> None:
    EVENTS.append("before-snapshot")
    if os.environ.get("SNAP_PROBE_FAIL") == "before":
        raise RuntimeError("before-snapshot failed on purpose")


def _after() -> None:
    EVENTS.append("after-restore")
    if os.environ.get("SNAP_PROBE_FAIL") == "after":
        raise RuntimeError("after-restore failed on purpose")


register_before_snapshot(_before)
register_after_restore(_after)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    EVENTS.append("invoke")
    return {"events": list(EVENTS), "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
