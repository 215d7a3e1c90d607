"""The `fnkit` command: a thin dispatcher. Each subcommand's module is imported only when it runs.

Every subcommand module exposes `add_arguments(parser)` and `run(args) -> int`. Domain exceptions
become a one-paragraph message and an exit code here, in `_EXIT_CODES`, and nowhere else.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "build": ("fnkit_build.cli", "export, check, quantize, gate and package the registry's models"),
    "invoke": ("fnkit_ops.invoke.cli", "run a built function locally under AWS's Runtime Interface Emulator"),
    "bench": ("fnkit_ops.bench.cli", "measure cold start, latency, size and accuracy against torch"),
    "promote": ("fnkit_ops.promote.cli", "shift a Lambda alias to a new version with gates and rollback"),
    "render": ("fnkit_ops.render.cli", "render the SAM stack, Dockerfile, events and CI from the registry"),
}

# (module, exception class name) -> exit code. Looked up by isinstance on the raised exception's MRO,
# so a subclass takes its base's code unless listed itself. 2 = usage or precondition error.
_EXIT_CODES: dict[tuple[str, str], int] = {
    ("fnkit_build.exceptions", "RegistryError"): 2,
    ("fnkit_build.exceptions", "BuildError"): 1,
    ("fnkit_runtime.exceptions", "ManifestError"): 2,
    ("fnkit_ops.exceptions", "UsageError"): 2,
    ("fnkit_ops.exceptions", "OpsError"): 1,
}


def _exit_code_for(exc: BaseException) -> int | None:
    for klass in type(exc).__mro__:
        code = _EXIT_CODES.get((klass.__module__, klass.__name__))
        if code is not None:
            return code
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fnkit",
        description="Take a PyTorch model to a fast, small, observable, safely-updated AWS Lambda endpoint.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in _SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sub)
        sub.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = importlib.import_module(args._module).run(args)
    except KeyboardInterrupt:
        print("fnkit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        code_for = _exit_code_for(exc)
        if code_for is None:
            raise
        print(f"fnkit {args.command}: error: {exc}", file=sys.stderr)
        return code_for
    return code


if __name__ == "__main__":
    sys.exit(main())
