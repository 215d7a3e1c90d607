"""Assemble a function's task root in a local folder, the way its Dockerfile assembles the image.

Layout (image and local alike): the `pip install --target` of the requirements, trimmed by
`functions/trim.py`; the handler package `fnkit_runtime/`; the built artifact under `model/`.
The dependency layer is installed once per requirements content and interpreter into a cache
(`$FNKIT_CACHE_DIR`, default `<repo>/.fnkit-cache/deps/<key>/`) and hardlinked into each task root.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import platform
import re
import shutil
import sys
import tempfile
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

from fnkit_ops.dockerfile import parse_dockerfile
from fnkit_ops.invoke.constants import (
    CACHE_DIR_ENV,
    CACHE_SUBDIR,
    REQUIREMENTS_FILE,
    REQUIREMENTS_TEXT_FILE,
    RUNTIME_CLIENT_REQUIREMENT,
    RUNTIME_PACKAGE,
    TASK_ROOT_MARKER,
    TRIM_SCRIPT,
)
from fnkit_ops.invoke.exceptions import DependencyInstallError, TaskRootError
from fnkit_ops.subprocesses import run_checked

_INCLUDE = re.compile(r"^(?:-r|--requirement)\s*=?\s*(\S+)$")


@dataclass(frozen=True)
class TaskRoot:
    """An assembled task root and its footprint."""

    path: Path
    deps_key: str
    """Cache key of the dependency layer (requirements content + interpreter + platform)."""
    deps_bytes: int
    """The dependency layer as pip installed it, before trimming."""
    trimmed_bytes: int
    """Bytes the trim list removed (0 when trimming was off)."""
    total_bytes: int
    """The finished task root: trimmed dependencies, handler and artifact."""
    trimmed: tuple[str, ...] = ()
    """Removed paths, relative to the task root."""

    @property
    def untrimmed_bytes(self) -> int:
        return self.total_bytes + self.trimmed_bytes


def functions_source_dir() -> Path:
    """The repo's `functions/` folder: the one holding the handler package fnkit imports."""
    import fnkit_runtime

    return Path(fnkit_runtime.__file__).resolve().parent.parent


def cache_dir() -> Path:
    """`$FNKIT_CACHE_DIR`, else `.fnkit-cache` at the repo root (beside `functions/`)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return functions_source_dir().parent / ".fnkit-cache"


def dir_size_bytes(path: Path) -> int:
    """Apparent size of every regular file under `path` (symlinks not followed, hardlinks counted)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            entry = Path(root, name)
            if not entry.is_symlink():
                total += entry.stat().st_size
    return total


def requirement_lines(requirements: Path | Sequence[str]) -> list[str]:
    """The requirement specifiers, with `-r` includes expanded, comments and blanks dropped."""
    if not isinstance(requirements, Path):
        return [line.strip() for line in requirements if line.strip() and not line.startswith("#")]
    return _read_requirements(requirements, seen=())


def _read_requirements(path: Path, seen: tuple[Path, ...]) -> list[str]:
    resolved = path.resolve()
    if resolved in seen:
        raise TaskRootError(f"requirements include cycle at {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskRootError(f"cannot read requirements file {path}: {exc}") from exc
    lines: list[str] = []
    for raw in text.replace("\\\n", " ").splitlines():  # a locked entry continues over its --hash lines
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        include = _INCLUDE.match(line)
        if include:
            lines += _read_requirements(path.parent / include.group(1), (*seen, resolved))
        else:
            lines.append(line)
    return lines


def deps_key(lines: Sequence[str], wheels: Sequence[str] = ()) -> str:
    """Cache key: requirement lines plus what makes wheels differ (interpreter and platform: the
    host's, or the foreign one `wheels` selects)."""
    host = [f"python={sys.implementation.cache_tag}", f"platform={sys.platform}-{platform.machine()}"]
    identity = [*(wheels or host), *lines]
    return hashlib.sha256("\n".join(identity).encode()).hexdigest()[:20]


def install_dependencies(
    requirements: Path | Sequence[str], cache: Path | None = None, *, wheels: Sequence[str] = ()
) -> tuple[Path, str]:
    """The cached `pip install --target` layer of `requirements` + the runtime client; (path, key).

    `wheels`: pip arguments selecting another platform's wheels (e.g. `emulation.aarch64_wheel_args()`
    for an arm64 function); none installs for the host's interpreter.
    """
    lines = [*requirement_lines(requirements), RUNTIME_CLIENT_REQUIREMENT]
    key = deps_key(lines, wheels)
    root = (cache or cache_dir()) / CACHE_SUBDIR
    layer = root / key
    if layer.is_dir():
        return layer, key
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}."))
    try:
        _pip_install(staging, requirements, lines, wheels)
        try:
            staging.rename(layer)
        except OSError:
            if not layer.is_dir():  # another process finished first: keep theirs
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return layer, key


def _pip_install(
    target: Path, requirements: Path | Sequence[str], lines: Sequence[str], wheels: Sequence[str]
) -> None:
    """A requirements file installs as the image installs it (a hash-locked file with --require-hashes,
    wheels only), then the runtime client beside it: pip's hash mode refuses an unhashed extra line."""
    if isinstance(requirements, Path):
        hashed = ["--require-hashes", "--only-binary=:all:"] if _is_hash_locked(requirements) else []
        _pip(target, [*wheels, *hashed, "-r", str(requirements)])
        _pip(target, [*wheels, RUNTIME_CLIENT_REQUIREMENT])
    else:
        _pip(target, [*wheels, *lines])


def _is_hash_locked(path: Path) -> bool:
    try:
        return "--hash=sha256:" in path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskRootError(f"cannot read requirements file {path}: {exc}") from exc


def _pip(target: Path, spec: list[str]) -> None:
    base = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    run_checked(
        [*base, "--target", str(target), *spec],
        DependencyInstallError,
        "pip install --target failed",
        tail_lines=15,
    )


def load_trim_module(source_dir: Path | None = None) -> types.ModuleType:
    """Import `functions/trim.py` (a stdlib-only script, not a package module) from its file."""
    path = (source_dir or functions_source_dir()) / TRIM_SCRIPT
    spec = spec_from_file_location("fnkit_trim", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise TaskRootError(f"trim list {path} is missing")
    module = module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _prepare_dest(dest: Path) -> None:
    if dest.exists():
        if not dest.is_dir():
            raise TaskRootError(f"task root {dest} exists and is not a folder")
        if any(dest.iterdir()):
            if not (dest / TASK_ROOT_MARKER).is_file():
                raise TaskRootError(
                    f"{dest} is not empty and is not a task root fnkit made; refusing to clear it"
                )
            shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / TASK_ROOT_MARKER).write_text("fnkit task root\n", encoding="utf-8")


def assemble_task_root(
    dest: Path,
    requirements: Path | Sequence[str],
    copies: Mapping[str, Path],
    *,
    trim: bool = True,
    cache: Path | None = None,
    source_dir: Path | None = None,
    wheels: Sequence[str] = (),
) -> TaskRoot:
    """Build a task root in `dest`: cached dependency layer, trim, then `copies` (name -> file/folder).

    `requirements` is a requirements file (includes followed) or a list of specifiers; the runtime
    client is always added; `wheels` selects another platform's wheels (see `install_dependencies`).
    Python packages among `copies` are byte-compiled, as the read-only /var/task of Lambda cannot
    cache bytecode at run time.
    """
    for name, src in copies.items():
        if not src.exists():
            raise TaskRootError(f"cannot copy {src} into the task root as {name}: it does not exist")
    layer, key = install_dependencies(requirements, cache, wheels=wheels)
    _prepare_dest(dest)
    shutil.copytree(layer, dest, copy_function=link_or_copy, symlinks=True, dirs_exist_ok=True)
    deps_bytes = dir_size_bytes(dest)
    removed: tuple[str, ...] = ()
    removed_bytes = 0
    if trim:
        result = load_trim_module(source_dir).trim(dest)
        removed, removed_bytes = tuple(result.removed), int(result.bytes_removed)
    for name, src in copies.items():
        target = dest / name
        if src.is_dir():
            shutil.copytree(src, target, copy_function=link_or_copy, ignore=_ignore_caches)
            if (target / "__init__.py").is_file():
                compileall.compile_dir(target, quiet=1)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(str(src), str(target))
    total = dir_size_bytes(dest)
    return TaskRoot(dest, key, deps_bytes, removed_bytes, total, removed)


def _ignore_caches(_directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or n.endswith(".pyc")}


def requirements_file_for(model: str, is_text_model: bool, source_dir: Path | None = None) -> Path:
    """The requirements file the model's Dockerfile installs (the manifest decides without one).

    A Dockerfile that names another file than the manifest implies is an error: the image and the
    local task root would differ.
    """
    source = source_dir or functions_source_dir()
    expected = REQUIREMENTS_TEXT_FILE if is_text_model else REQUIREMENTS_FILE
    dockerfile = source / model / "Dockerfile"
    if dockerfile.is_file():
        named = parse_dockerfile(dockerfile).requirements_files
        if named and named != {expected}:
            raise TaskRootError(
                f"{dockerfile} installs {', '.join(sorted(named))} but the manifest "
                f"({'text' if is_text_model else 'tensor'} model) implies {expected}"
            )
    path = source / expected
    if not path.is_file():
        raise TaskRootError(f"requirements file {path} is missing")
    return path


def function_copies(model_dir: Path, source_dir: Path | None = None) -> dict[str, Path]:
    """What the image copies beside the dependencies: the handler package and the built model."""
    source = source_dir or functions_source_dir()
    return {RUNTIME_PACKAGE: source / RUNTIME_PACKAGE, "model": model_dir}
