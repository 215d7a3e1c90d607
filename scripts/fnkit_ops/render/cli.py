"""`fnkit render [--registry PATH] [--check] [--force] [--list --json]`.

Exit codes: 0 rendered (or, with --check, everything current); 1 with --check when a file differs
from what the registry renders (a unified diff is printed); 2 a bad registry, or a file in the way
that render did not generate (nothing written; --force replaces it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fnkit_build.project import add_registry_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Render the project's SAM stack from its registry alone (no build needed, no torch): "
        "template.yaml, functions/Dockerfile, events/<model>-<type>.json, samconfig.toml (when absent) "
        "and .github/workflows/deploy.yml, all relative to the registry's folder."
    )
    add_registry_argument(parser)
    parser.add_argument(
        "--artifacts",
        type=Path,
        metavar="DIR",
        help="where built models live, for event bodies (default: <project>/functions)",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 with a diff when a file is not current"
    )
    parser.add_argument("--force", action="store_true", help="replace files render did not generate")
    parser.add_argument("--list", action="store_true", help="print the registry's models and exit")
    parser.add_argument("--json", action="store_true", help="with --list: one JSON line (the CI matrix)")


def run(args: argparse.Namespace) -> int:
    from fnkit_build.registry import load_registry

    from fnkit_ops.render import files, model_list, render_project

    registry = load_registry(args.registry)
    if args.list:
        models = model_list(registry)
        if args.json:
            print(json.dumps(models, separators=(",", ":")))
        else:
            for item in models:
                print(item["model"])
        return 0
    rendered = render_project(registry, args.artifacts)
    if args.check:
        difference = files.diff(rendered)
        if difference:
            sys.stdout.write(difference)
            print(f"fnkit render --check: {rendered.root} differs from {args.registry}; run `fnkit render`")
            return 1
        print(f"fnkit render --check: {len(rendered.files)} files current")
        return 0
    changed = files.write(rendered, force=args.force)
    for path in changed:
        print(f"wrote {path}")
    print(f"fnkit render: {len(rendered.files)} files, {len(changed)} changed, in {rendered.root}")
    return 0
