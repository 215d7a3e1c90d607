"""Remove from a `pip install --target` folder what the function's runtime never loads.

The one trim list of the kit. The Dockerfiles run it right after installing the requirements
(`RUN pip install -r requirements.txt --target "${LAMBDA_TASK_ROOT}" && python trim.py "${LAMBDA_TASK_ROOT}"`)
and `fnkit invoke` / `fnkit bench` run the same file on the local task root, so both trees match.

Standard library only: it runs inside the Lambda base image before anything else is installed.
Every pattern is relative to the target folder and has its reason beside it. The tests in
`tests/invoke/` verify the list: the handler run on an untrimmed tree loads (imports or maps) no file
that this list removes, and the handler run on the trimmed tree reproduces the manifest's golden outputs.

Usage: python trim.py TARGET [--dry-run]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


def _distribution(package: str, reason: str, dist: str | None = None) -> tuple[tuple[str, str], ...]:
    """An installed distribution: its import folder and its `.dist-info` metadata."""
    return ((package, reason), (f"{dist or package}-*.dist-info", f"metadata of {dist or package}"))


TRIM_PATTERNS: tuple[tuple[str, str], ...] = (
    # console scripts pip writes beside the packages (f2py, onnxruntime_test, hf, ...)
    ("bin", "console scripts; the runtime imports modules, never runs these"),
    # onnxruntime: offline tooling, and the C API library the Python binding does not link
    ("onnxruntime/transformers", "onnxruntime's transformer-optimizer tooling (build time)"),
    ("onnxruntime/tools", "onnxruntime's model conversion and test tools (build time)"),
    ("onnxruntime/quantization", "onnxruntime's quantizer (fnkit build quantizes; the function does not)"),
    ("onnxruntime/capi/libonnxruntime.so.*", "C API library; the pybind module has no NEEDED entry for it"),
    # numpy: build helpers, C headers, test suites and test-only extension modules
    ("numpy/f2py", "Fortran wrapper generator"),
    ("numpy/distutils", "legacy build system"),
    ("numpy/_core/include", "C headers for building extensions"),
    ("numpy/_core/lib", "static npymath library and pkg-config files for building extensions"),
    ("numpy/_pyinstaller", "PyInstaller hook"),
    ("numpy/**/tests", "test suites"),
    ("numpy/_core/_*_tests.*.so", "extension modules loaded only by numpy's test suite"),
    ("numpy/_core/_simd.*.so", "SIMD test module, loaded only by numpy's test suite"),
    # The download stack tokenizers pulls for Tokenizer.from_pretrained (huggingface_hub and what only
    # it needs); the function loads its tokenizer with Tokenizer.from_file. Folder, then its metadata.
    *_distribution("huggingface_hub", "hub client, used only by Tokenizer.from_pretrained"),
    *_distribution("hf_xet", "hub storage client (an 11 MB extension)"),
    *_distribution("httpx2", "HTTP client of the hub client"),
    *_distribution("httpcore2", "HTTP core of httpx2"),
    *_distribution("h11", "HTTP/1.1 parser of httpcore2"),
    *_distribution("anyio", "async layer of httpx2"),
    *_distribution("idna", "host-name encoding of httpx2"),
    *_distribution("truststore", "system certificate store of httpx2"),
    *_distribution("fsspec", "file-system layer of the hub client"),
    *_distribution("filelock", "download locks of the hub client"),
    *_distribution("tqdm", "progress bars of the hub client"),
    *_distribution("click", "command line of the hub client"),
    *_distribution("yaml", "YAML for the hub client's model cards", dist="pyyaml"),
    ("_yaml", "pyyaml's extension shim"),
    # everywhere: type stubs are read by type checkers, never by the interpreter
    ("**/*.pyi", "type stubs"),
)
"""(glob relative to the target, reason). Matches may be files or folders."""


@dataclass(frozen=True)
class TrimResult:
    removed: tuple[str, ...]
    """Removed paths relative to the target, sorted."""
    bytes_removed: int


def _tree_bytes(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _matches(root: Path, patterns: Sequence[str]) -> Iterator[Path]:
    seen: set[Path] = set()
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path not in seen and not any(parent in seen for parent in path.parents):
                seen.add(path)
                yield path


def plan(root: Path, patterns: Sequence[str] | None = None) -> list[Path]:
    """The paths `trim` would remove under `root` (outermost matches only), sorted."""
    chosen = [p for p, _ in TRIM_PATTERNS] if patterns is None else list(patterns)
    return sorted(_matches(root, chosen))


def trim(root: Path, patterns: Sequence[str] | None = None, dry_run: bool = False) -> TrimResult:
    """Remove every match of the trim list under `root`; returns what went and how many bytes."""
    if not root.is_dir():
        raise NotADirectoryError(f"trim target {root} is not a folder")
    paths = plan(root, patterns)
    total = 0
    for path in paths:
        total += _tree_bytes(path)
        if dry_run:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return TrimResult(tuple(str(p.relative_to(root)) for p in paths), total)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Remove what the function's runtime never loads.")
    parser.add_argument("target", type=Path, help="the pip --target folder (the task root)")
    parser.add_argument("--dry-run", action="store_true", help="list what would go; remove nothing")
    args = parser.parse_args(argv)
    try:
        result = trim(args.target, dry_run=args.dry_run)
    except NotADirectoryError as exc:
        print(f"trim: error: {exc}", file=sys.stderr)
        return 2
    verb = "would remove" if args.dry_run else "removed"
    for rel in result.removed:
        print(f"  {rel}")
    print(f"trim: {verb} {len(result.removed)} paths, {result.bytes_removed / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
