"""SIGTERM and SIGINT during a promotion: raise `PromotionInterrupted`, so the run rolls back.

CI runners send SIGTERM when a job is cancelled or times out, and a person presses Ctrl-C: either way
traffic must not stay split. While the rollback itself runs (`shielded`), a second signal is noted
and does not interrupt it. Handlers are installed only in the main thread (Python's rule) and the
previous ones are restored afterwards.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from fnkit_ops.promote.exceptions import PromotionInterrupted

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupts:
    """Turns the signals into PromotionInterrupted, except while shielded."""

    def __init__(self) -> None:
        self.shielding = False
        self.received: list[str] = []

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        if not self.shielding:
            raise PromotionInterrupted(name)

    @contextmanager
    def shielded(self) -> Iterator[None]:
        self.shielding = True
        try:
            yield
        finally:
            self.shielding = False


@contextmanager
def interruptible() -> Iterator[Interrupts]:
    interrupts = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield interrupts
        return
    previous = {signum: signal.signal(signum, interrupts.handle) for signum in _SIGNALS}
    try:
        yield interrupts
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
