"""The one progress sink: `[label] text` lines on stderr, flushed as they happen.

`fnkit build`, `fnkit bench`, `fnkit invoke` and `fnkit promote` write their progress through a
`Progress` and nothing else; what a command prints as its result (the build's summary table and
`--list`, invoke's responses and `--json`, bench's files) stays on stdout. A quiet `Progress`
(`--quiet`, where a command has it) drops progress but never an error. Tests read the lines with
`capture()`. It lives in `fnkit_build`, the package every command imports; the runtime has no use for it.
"""

from __future__ import annotations

import dataclasses
import io
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

_captured: list[TextIO] = []
"""Streams installed by `capture()`, innermost last; empty: stderr."""


def _stream() -> TextIO:
    # sys.stderr as it is now, not at import: pytest's capsys replaces it per test
    return _captured[-1] if _captured else sys.stderr


def _write(text: str, end: str = "\n") -> None:
    stream = _stream()
    stream.write(text + end)
    stream.flush()


@contextmanager
def capture() -> Iterator[io.StringIO]:
    """Every progress line written inside the block goes to the yielded buffer instead of stderr."""
    buffer = io.StringIO()
    _captured.append(buffer)
    try:
        yield buffer
    finally:
        _captured.remove(buffer)


@dataclass
class Step:
    """A timed step in progress; set `detail` to end its line with it."""

    detail: str = ""


@dataclass(frozen=True)
class Progress:
    """Progress lines prefixed with `[label]`: a model's name, or the command's."""

    label: str
    quiet: bool = False

    def __call__(self, text: str) -> None:
        self.say(text)

    def say(self, text: str) -> None:
        if not self.quiet:
            _write(f"[{self.label}] {text}")

    def passthrough(self, text: str) -> None:
        """A line of a child process's own output (a function's log), indented, not prefixed."""
        if not self.quiet:
            _write(f"  | {text}")

    def error(self, text: str) -> None:
        """An error line, shown even when quiet."""
        _write(f"[{self.label}] error: {text}")

    def under(self, label: str) -> Progress:
        """The same sink with another prefix (a model within a command's run)."""
        return dataclasses.replace(self, label=label)

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        """`[label] name ... 1.23 s: detail` on one line, or `... failed` when the block raises."""
        step = Step()
        if not self.quiet:
            _write(f"[{self.label}] {name} ...", end="")
        start = time.perf_counter()
        try:
            yield step
        except BaseException:
            if not self.quiet:
                _write(" failed")
            raise
        if not self.quiet:
            suffix = f": {step.detail}" if step.detail else ""
            _write(f" {time.perf_counter() - start:.2f} s{suffix}")
