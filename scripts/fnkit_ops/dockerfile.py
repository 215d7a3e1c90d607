"""One reader of Dockerfiles: the instructions fnkit's image uses, for the task root and the tests.

No Docker engine runs here, so the local task root (`fnkit invoke`) and the checks of the rendered
`functions/Dockerfile` read the file instead; both go through `parse_dockerfile`.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_CONTINUATION = re.compile(r"\\\n")
_REQUIREMENTS = re.compile(r"(?:-r|--requirement)\s*=?\s*\S*?(requirements[\w.-]*\.txt)")


@dataclass
class Dockerfile:
    """FROM, COPY, RUN, ENV and CMD instructions, in file order (ARG and others are not kept)."""

    base: list[str] = field(default_factory=list)
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] = field(default_factory=list)

    @property
    def requirements_files(self) -> set[str]:
        """The requirements files the RUN instructions install (`-r`/`--requirement`), by file name."""
        return {name for run in self.runs for name in _REQUIREMENTS.findall(run)}


def parse_dockerfile(path: Path) -> Dockerfile:
    """The file's instructions (line continuations joined, comments and blank lines dropped)."""
    text = _CONTINUATION.sub(" ", path.read_text(encoding="utf-8"))
    parsed = Dockerfile()
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        instruction, _, rest = stripped.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            parsed.base.append(rest.split()[0])
        elif instruction == "COPY":
            words = [w for w in shlex.split(rest) if not w.startswith("--")]
            parsed.copies.append((words[:-1], words[-1]))
        elif instruction == "RUN":
            parsed.runs.append(rest)
        elif instruction == "ENV":
            key, _, value = rest.partition("=")
            parsed.env[key.strip()] = value.strip()
        elif instruction == "CMD":
            parsed.cmd = json.loads(rest)
    return parsed
