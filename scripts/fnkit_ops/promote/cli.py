"""`fnkit promote`: shift a Lambda alias to a new version with gates and automatic rollback.

Exit codes: 0 promoted (or a dry run whose checks passed), 1 rolled back (a gate failed, SIGTERM or
SIGINT, an error mid-shift), 2 usage or precondition error with the alias untouched (a version rolled
back before included), 3 the alias changed under the promotion (someone else's write) and the
promotion stopped without overwriting it. See docs/promote.md.
This module imports nothing heavy: boto3 and the promotion modules load inside `run`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fnkit_ops.promote.constants import DEFAULT_STRATEGY, EXIT_PRECONDITION

if TYPE_CHECKING:
    from fnkit_ops.promote.config import Dependencies, PromotionConfig
    from fnkit_ops.promote.metrics import EmfSource

_EMF_FLAGS = (
    ("--emf-namespace", "emf_namespace"),
    ("--emf-service", "emf_service"),
    ("--emf-model", "emf_model"),
)


def _optional_float(text: str) -> float | None:
    """A float, or `off` to disable the check."""
    if text.strip().lower() in {"off", "none"}:
        return None
    return float(text)


Setting = tuple[str, Callable[[str], Any], str]
"""A config field set by a flag: its name (the flag is --name-with-dashes), the flag's type, its help."""

_GATE_SETTINGS: tuple[Setting, ...] = (
    (
        "min_invocations",
        int,
        "new-version invocations needed in a step before it can pass (default %(default)s)",
    ),
    ("max_error_rate", float, "new version's error rate ceiling, 0..1 (default %(default)s)"),
    (
        "max_error_rate_delta",
        _optional_float,
        "allowed excess over the old version's error rate, or off (default %(default)s)",
    ),
    (
        "max_client_error_rate",
        float,
        "new version's share of requests answered 4xx, 0..1; needs --emf-* (default %(default)s)",
    ),
    (
        "max_client_error_rate_delta",
        _optional_float,
        "allowed excess over the old version's 4xx share, or off (default %(default)s)",
    ),
    ("max_p99_ms", _optional_float, "new version's p99 Duration ceiling in ms, or off (default off)"),
    ("max_p99_ratio", _optional_float, "new p99 / old p99 ceiling, or off (default %(default)s)"),
    (
        "min_latency_samples",
        int,
        "latency samples of the new version needed before its p99 is judged (default %(default)s)",
    ),
)
_RUN_SETTINGS: tuple[Setting, ...] = (
    ("poll_seconds", float, "gate polling interval within a step (default %(default)s)"),
    (
        "settle_seconds",
        float,
        "after a step's minutes, wait this long for late metrics before its last reading "
        "(default %(default)s, to cover EMF's delay)",
    ),
    (
        "bake_minutes",
        int,
        "after 100%%, keep the gates on this long and roll back on a failure (default 0: none)",
    ),
)


def _add_settings(
    group: argparse._ArgumentGroup, settings: tuple[Setting, ...], defaults: dict[str, Any]
) -> None:
    """A flag for each setting, its default the config field's."""
    for name, kind, text in settings:
        group.add_argument("--" + name.replace("_", "-"), type=kind, default=defaults[name], help=text)


def _defaults(config: type[Any]) -> dict[str, Any]:
    """A config dataclass's field defaults: the flags' defaults are the config's, defined once."""
    return {f.name: f.default for f in dataclasses.fields(config) if f.default is not dataclasses.MISSING}


def _from_args(config: type[Any], args: argparse.Namespace, **converted: Any) -> Any:
    """`config` built from the flags of the same name as its fields; `converted` gives the others."""
    flags = vars(args)
    plain = {f.name: flags[f.name] for f in dataclasses.fields(config) if f.name in flags}
    return config(**(plain | converted))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fnkit_ops.promote.config import PromotionConfig
    from fnkit_ops.promote.gates import GateConfig, InsufficientDataPolicy, InsufficientTrafficPolicy

    gate_default = _defaults(GateConfig)
    run_default = _defaults(PromotionConfig)
    target = parser.add_argument_group("what to promote")
    target.add_argument("--function", required=True, help="Lambda function name")
    which = target.add_mutually_exclusive_group(required=True)
    which.add_argument("--version", help="published version number to promote")
    which.add_argument(
        "--publish-image",
        metavar="URI",
        help="update $LATEST to this image, wait for the update, publish a version and promote it",
    )
    target.add_argument("--alias", default=run_default["alias"], help="alias to shift (default %(default)s)")
    target.add_argument(
        "--strategy",
        default=DEFAULT_STRATEGY,
        help="all-at-once | canary:PERCENT:MINUTES | linear:PERCENT:MINUTES (default %(default)s)",
    )
    gates = parser.add_argument_group("gates")
    gates.add_argument(
        "--alarm",
        action="append",
        default=[],
        metavar="NAME",
        help="CloudWatch alarm that must not be in ALARM",
    )
    gates.add_argument(
        "--insufficient-data",
        choices=[str(policy) for policy in InsufficientDataPolicy],
        default=str(gate_default["insufficient_data"]),
        help="alarm in INSUFFICIENT_DATA: fail now, wait until the step's time is up then fail, "
        "or ignore (default %(default)s)",
    )
    gates.add_argument(
        "--insufficient-traffic",
        choices=[str(policy) for policy in InsufficientTrafficPolicy],
        default=str(gate_default["insufficient_traffic"]),
        help="when a step ends with fewer than --min-invocations (default %(default)s)",
    )
    _add_settings(gates, _GATE_SETTINGS, gate_default)
    emf = parser.add_argument_group(
        "the function's own EMF metrics (all three or none)",
        "judge each version on the function's EMF Requests, ClientErrors, ServerErrors and "
        "InferenceTime: health checks and warm-ups are not requests, 4xx and 5xx answers (which "
        "Lambda counts as successes) are errors, latency is warm inference without model loads",
    )
    emf.add_argument(
        "--emf-namespace",
        metavar="NS",
        help="the function's POWERTOOLS_METRICS_NAMESPACE (the stack uses fnkit)",
    )
    emf.add_argument(
        "--emf-service",
        metavar="SERVICE",
        help="the `service` dimension: the function's POWERTOOLS_SERVICE_NAME (the stack name)",
    )
    emf.add_argument("--emf-model", metavar="MODEL", help="the `model` dimension: the served model's name")
    gates.add_argument(
        "--smoke-manifest",
        type=Path,
        metavar="PATH",
        help="manifest.json, its folder, or a model name of --registry's project: invoke the new "
        "version with its golden samples first",
    )
    gates.add_argument(
        "--registry",
        type=Path,
        metavar="PATH",
        help="the project's models.toml, for --smoke-manifest MODEL (<project>/functions/MODEL/model)",
    )
    run_group = parser.add_argument_group("run")
    run_group.add_argument(
        "--on-resume",
        choices=("resume", "rollback"),
        help="the alias is already mid-shift to this version: continue from its weight, "
        "or roll back (required in that case)",
    )
    _add_settings(run_group, _RUN_SETTINGS, run_default)
    run_group.add_argument(
        "--run-id",
        default=run_default["run_id"],
        help="this run's id in the alias's fnkit mark (default: UTC time and random digits)",
    )
    run_group.add_argument(
        "--retry-rejected",
        action="store_true",
        help="promote a version whose image an earlier promotion rolled back",
    )
    run_group.add_argument(
        "--no-follow-alarms",
        dest="follow_alarms",
        action="store_false",
        help="leave the --alarm alarms' version dimensions as they are",
    )
    run_group.add_argument("--report", type=Path, metavar="PATH", help="write the JSON report here")
    run_group.add_argument("--dry-run", action="store_true", help="check and print the plan; change nothing")


def emf_from_args(args: argparse.Namespace) -> EmfSource | None:
    """The EMF source when all three --emf-* flags are given, None when none is."""
    from fnkit_ops.promote.exceptions import PromoteUsageError
    from fnkit_ops.promote.metrics import EmfSource

    values = {flag: getattr(args, dest, None) for flag, dest in _EMF_FLAGS}
    missing = [flag for flag, value in values.items() if value is None]
    if len(missing) == len(values):
        return None
    if missing:
        raise PromoteUsageError(
            "--emf-namespace, --emf-service and --emf-model go together; missing " + ", ".join(missing)
        )
    return EmfSource(args.emf_namespace, args.emf_service, args.emf_model)


def config_from_args(args: argparse.Namespace) -> PromotionConfig:
    from fnkit_ops.promote.config import PromotionConfig, ResumePolicy
    from fnkit_ops.promote.gates import GateConfig, InsufficientDataPolicy, InsufficientTrafficPolicy
    from fnkit_ops.promote.strategy import parse_strategy

    gates = _from_args(
        GateConfig,
        args,
        alarms=tuple(args.alarm),
        insufficient_data=InsufficientDataPolicy(args.insufficient_data),
        insufficient_traffic=InsufficientTrafficPolicy(args.insufficient_traffic),
        emf=emf_from_args(args),
    )
    config: PromotionConfig = _from_args(
        PromotionConfig,
        args,
        strategy=parse_strategy(args.strategy),
        gates=gates,
        smoke_manifest=_smoke_manifest(args.smoke_manifest, args.registry),
        on_resume=ResumePolicy(args.on_resume) if args.on_resume else None,
        report_path=args.report,
    )
    return config


def _refuse(args: argparse.Namespace, reason: str) -> int:
    """Exit 2 before anything started: the message, and a report if one can be written."""
    from fnkit_ops.promote.report import write_usage_failure

    print(f"fnkit promote: error: {reason}", file=sys.stderr, flush=True)
    try:
        write_usage_failure(args.report, args.function, reason)
    except OSError as exc:
        print(f"fnkit promote: cannot write --report {args.report}: {exc}", file=sys.stderr, flush=True)
    return EXIT_PRECONDITION


def run(args: argparse.Namespace, deps: Dependencies | None = None) -> int:
    """Run the promotion; returns its exit code. `deps` replaces the boto3 clients, clock and sleep."""
    from botocore.exceptions import BotoCoreError

    from fnkit_ops.promote.config import Dependencies
    from fnkit_ops.promote.exceptions import PromoteUsageError
    from fnkit_ops.promote.promoter import promote

    try:
        config = config_from_args(args)
    except PromoteUsageError as exc:
        return _refuse(args, str(exc))
    if deps is None:
        try:
            deps = Dependencies.from_boto3()
        except BotoCoreError as exc:  # no region, a broken profile: AWS configuration, nothing touched
            return _refuse(args, f"AWS configuration: {type(exc).__name__}: {exc}")
    return promote(config, deps).exit_code


def _smoke_manifest(value: Path | None, registry: Path | None) -> Path | None:
    """A manifest path as given, or a model name resolved in the project of `registry`."""
    if value is None or registry is None or value.exists():
        return value
    from fnkit_build.project import artifacts_dir
    from fnkit_runtime.vocabulary import MODEL_SUBDIR

    return artifacts_dir(registry) / str(value) / MODEL_SUBDIR
