"""The test layout itself: no test folder may be silently skipped by pytest's configuration."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path


def test_no_test_folder_matches_norecursedirs(repo_root: Path) -> None:
    # GIVEN pytest's norecursedirs from pyproject (its default would skip a folder named `build`)
    config = tomllib.loads((repo_root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    patterns = config["norecursedirs"]
    # WHEN listing the test folders that hold tests
    folders = [p for p in (repo_root / "tests").iterdir() if p.is_dir() and any(p.glob("test_*.py"))]
    # THEN every area is there and none is excluded from collection
    assert {"build", "runtime", "invoke", "deploy", "promote", "bench"} <= {p.name for p in folders}
    skipped = [p.name for p in folders if any(fnmatch.fnmatch(p.name, pat) for pat in patterns)]
    assert skipped == []
