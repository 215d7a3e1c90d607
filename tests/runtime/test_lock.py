"""The image's lock files (functions/requirements*.txt) are current with their inputs and pyproject.

`make lock` compiles each input (`functions/requirements*.in`) with pip-tools, hashes included; the
image installs the lock with --require-hashes. These tests fail when an input or pyproject's
dependencies changed and the lock was not regenerated, or when a lock is incomplete.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = REPO / "functions"
LOCKS = {"requirements.txt": "requirements.in", "requirements-text.txt": "requirements-text.in"}
TEXT_ONLY = {"tokenizers"}
IMAGE_ENVIRONMENTS = [
    {"python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
     "platform_system": "Linux", "platform_machine": machine, "os_name": "posix",
     "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    for machine in ("x86_64", "aarch64")
]  # fmt: skip
"""The Lambda base image's Python on both architectures the registry allows."""


@dataclass
class Locked:
    version: str
    hashes: list[str] = field(default_factory=list)
    via: set[str] = field(default_factory=set)


def read_input(path: Path) -> dict[str, str]:
    """name -> version of a lock input, `-r` includes followed."""
    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins.update(read_input(path.parent / line[3:].strip()))
        elif line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"{path.name}: {line!r} is not pinned with =="
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def read_lock(path: Path) -> dict[str, Locked]:
    """pip-compile's output: `name==version \\ --hash=... # via ...` entries by name."""
    entries: dict[str, Locked] = {}
    current: Locked | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip().rstrip("\\").strip()
        entry = re.match(r"^([A-Za-z0-9._-]+)==(\S+)$", line)
        if entry:
            current = entries.setdefault(canonicalize_name(entry.group(1)), Locked(entry.group(2)))
        elif line.startswith("--hash=sha256:") and current is not None:
            current.hashes.append(line.removeprefix("--hash=sha256:"))
        elif line.startswith("#") and current is not None:
            source = line.lstrip("#").strip().removeprefix("via").strip()
            if source:
                current.via.add(source if source.startswith("-r") else canonicalize_name(source))
    return entries


def lock_problems(lock_path: Path, input_path: Path) -> list[str]:
    """Why the lock is not what `make lock` would write from its input (empty when it is current)."""
    wanted, locked = read_input(input_path), read_lock(lock_path)
    problems = [
        f"{name}=={version} is in {input_path.name} but the lock has "
        f"{locked[name].version if name in locked else 'nothing'}"
        for name, version in wanted.items()
        if name not in locked or locked[name].version != version
    ]
    for name, entry in locked.items():
        direct = any(source.startswith("-r") for source in entry.via)
        if direct and name not in wanted:
            problems.append(
                f"{name} is locked as a direct requirement but {input_path.name} no longer has it"
            )
        if not direct and not entry.via & set(locked):
            problems.append(f"{name} is locked but nothing in the lock needs it")
        if not entry.hashes or not all(re.fullmatch(r"[0-9a-f]{64}", h) for h in entry.hashes):
            problems.append(f"{name} has no sha256 hash")
    return problems


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_each_lock_is_current_with_its_input(lock):
    # GIVEN a lock file and its input / THEN the lock holds exactly the input's pins, all hashed
    assert lock_problems(FUNCTIONS / lock, FUNCTIONS / LOCKS[lock]) == []


def test_the_inputs_are_pyprojects_runtime_set():
    # GIVEN pyproject's dependencies (the runtime set the kit is tested with)
    with (REPO / "pyproject.toml").open("rb") as handle:
        declared = {
            canonicalize_name(Requirement(d).name): str(next(iter(Requirement(d).specifier)).version)
            for d in tomllib.load(handle)["project"]["dependencies"]
        }
    # THEN the text input is all of it and the tensor input all but the text-only packages
    assert read_input(FUNCTIONS / "requirements-text.in") == declared
    assert read_input(FUNCTIONS / "requirements.in") == {
        k: v for k, v in declared.items() if k not in TEXT_ONLY
    }


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_each_lock_is_complete_for_the_image(lock):
    # GIVEN each locked package's own requirements (its metadata, as installed here at that version)
    locked = read_lock(FUNCTIONS / lock)
    checked = 0
    for name, entry in locked.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != entry.version:
            continue
        checked += 1
        for text in dist.requires or []:
            requirement = Requirement(text)
            needed = [
                env
                for env in IMAGE_ENVIRONMENTS
                if not requirement.marker or requirement.marker.evaluate(env)
            ]
            if not needed:
                continue
            # THEN on the image's Python, each one is locked at a version it accepts
            dep = canonicalize_name(requirement.name)
            assert dep in locked, f"{name} needs {requirement} on the image; {lock} lacks it (make lock)"
            assert requirement.specifier.contains(locked[dep].version, prereleases=True), (
                f"{name} needs {requirement}; {lock} has {locked[dep].version}"
            )
    assert checked >= len(read_input(FUNCTIONS / LOCKS[lock]))


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        pytest.param(("numpy==2.4.6", "numpy==2.4.7"), "numpy==2.4.7 is in", id="bumped-pin"),
        pytest.param(("aws-lambda-powertools==3.37.0\n", ""), "no longer has it", id="dropped"),
        pytest.param(("numpy==2.4.6", "numpy==2.4.6\nsix==1.17.0"), "six==1.17.0 is in", id="added"),
    ],
)
def test_a_stale_lock_is_detected(tmp_path, edit, problem):
    # GIVEN the real lock and an input changed since it was compiled
    (tmp_path / "requirements.txt").write_text((FUNCTIONS / "requirements.txt").read_text())
    text = (FUNCTIONS / "requirements.in").read_text()
    assert edit[0] in text
    (tmp_path / "requirements.in").write_text(text.replace(edit[0], edit[1]))
    # WHEN checked / THEN the lock is reported stale
    problems = lock_problems(tmp_path / "requirements.txt", tmp_path / "requirements.in")
    assert any(problem in p for p in problems), problems


def test_an_unhashed_lock_is_detected(tmp_path):
    text = (FUNCTIONS / "requirements.txt").read_text()
    (tmp_path / "requirements.txt").write_text(re.sub(r"\s+--hash=sha256:[0-9a-f]+", "", text))
    (tmp_path / "requirements.in").write_text((FUNCTIONS / "requirements.in").read_text())
    problems = lock_problems(tmp_path / "requirements.txt", tmp_path / "requirements.in")
    assert any("no sha256 hash" in p for p in problems), problems
