"""Does the shipped function answer alike under AWS's Runtime Interface Emulator and fnkit's own API?

The bench measures through fnkit's own Runtime API (peak RSS, the cold/warm split: what the RIE does
not report); this check sends the bench's batch events through both and requires identical answers,
so the figures are about the function `sam local invoke` would run. A mismatch is fatal; an emulator
that cannot be had (offline, another CPU) is reported as not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnkit_ops.bench.exceptions import BenchError
from fnkit_ops.invoke.constants import Emulator
from fnkit_ops.invoke.exceptions import EmulatorUnavailableError
from fnkit_ops.invoke.process import FunctionConfig


@dataclass(frozen=True)
class EmulatorAgreement:
    """How many of the events got the same answer under the emulator as under fnkit's Runtime API."""

    emulator: str
    events: int
    agreed: int | None
    """None when the emulator could not be run (see `note`)."""
    note: str


def check_rie_agreement(
    model: str, task_root: Path, config: FunctionConfig, architecture: str, events: Sequence[Any]
) -> EmulatorAgreement:
    from fnkit_ops.invoke.cpu import check_pairing, host_cpu
    from fnkit_ops.invoke.rie import RieFunction
    from fnkit_ops.invoke.rie_binary import ensure_binary
    from fnkit_ops.invoke.runner import invoke_all, run_invocations

    try:
        binary = ensure_binary(architecture)
        check_pairing(binary.architecture, host_cpu())  # the bench's task root is the host's
    except EmulatorUnavailableError as exc:
        return EmulatorAgreement(Emulator.RIE.value, len(events), None, f"not checked: {exc}")
    ours = run_invocations(task_root, events, config)
    theirs = invoke_all(RieFunction(binary, task_root, config), events)
    pairs = list(zip(ours.invocations, theirs.invocations, strict=True))
    for index, (mine, rie) in enumerate(pairs):
        if not (mine.ok and rie.ok) or mine.response() != rie.response():
            raise BenchError(
                f"{model}: event {index + 1} of {len(events)} gets a different answer under AWS's Runtime "
                f"Interface Emulator ({rie.body[:200]!r}) than under fnkit's Runtime API "
                f"({mine.body[:200]!r}); the bench would measure another function than sam local invoke runs"
            )
    return EmulatorAgreement(
        Emulator.RIE.value, len(events), len(pairs), f"{binary.source} sha256 {binary.sha256}"
    )
