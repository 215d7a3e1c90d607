"""The project convention: a project is a folder holding `models.toml` (plus the factories it names).

Every command takes `--registry PATH` (default `./models.toml`) and puts what it writes relative to
the registry's folder unless told otherwise: built models in `<project>/functions/<model>/model/`,
the rendered stack beside the registry. The kit's own repository is one such project.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_REGISTRY = Path("models.toml")
FUNCTIONS_DIR = "functions"
"""The project's Docker build context and where `fnkit build` writes `<model>/model/`."""
CACHE_DIR_ENV = "FNKIT_CACHE_DIR"
"""Overrides the project cache (`<project>/.fnkit-cache`: dependency layers, emulation roots)."""
CACHE_DIR = ".fnkit-cache"


def add_registry_argument(parser: argparse.ArgumentParser, note: str = "") -> None:
    """`--registry PATH`, as every command that reads the project takes it."""
    parser.add_argument(
        "--registry",
        type=Path,
        default=DEFAULT_REGISTRY,
        metavar="PATH",
        help=f"the project's models.toml (default: ./{DEFAULT_REGISTRY}){note}",
    )


def project_root(registry: Path) -> Path:
    return registry.resolve().parent


def artifacts_dir(registry: Path, explicit: Path | None = None) -> Path:
    """Where the project's built models live: `explicit` if given, else `<project>/functions`."""
    return explicit if explicit is not None else project_root(registry) / FUNCTIONS_DIR


def cache_dir(registry: Path) -> Path:
    """`$FNKIT_CACHE_DIR`, else `.fnkit-cache` in the project's folder."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return project_root(registry) / CACHE_DIR
