"""The subcommand module's contract with the `fnkit` dispatcher."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fnkit_ops.promote import cli
from fnkit_ops.promote.config import PromotionConfig
from fnkit_ops.promote.gates import GateConfig
from fnkit_ops.promote.metrics import EmfSource


def test_cli_module_is_cheap_to_import():
    # WHEN importing the subcommand module in a fresh interpreter
    code = (
        "import sys, fnkit_ops.promote.cli\n"
        "heavy = sorted(m for m in ('boto3', 'botocore', 'numpy', 'moto') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout

    # THEN none of the heavy modules came with it
    assert out.strip() == ""


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_match_the_documented_contract():
    # WHEN parsing the minimum
    args = _parse("--function", "fn", "--version", "3")

    # THEN the documented defaults apply
    config = cli.config_from_args(args)
    assert (config.alias, config.strategy.spec, config.dry_run) == ("live", "canary:10:5", False)
    assert config.gates.insufficient_data == "wait" and config.gates.insufficient_traffic == "fail"
    assert config.gates.min_invocations == 20 and config.gates.max_p99_ratio == 1.5
    assert config.gates.max_p99_ms is None


def test_flags_left_out_leave_every_config_default():
    # WHEN parsing the minimum
    config = cli.config_from_args(_parse("--function", "fn", "--version", "3"))

    # THEN the gates and the run settings are the configs' own defaults, field for field
    assert config.gates == GateConfig()
    assert config == PromotionConfig(function="fn", version="3", strategy=config.strategy, gates=GateConfig())


def test_thresholds_can_be_switched_off():
    args = _parse(
        "--function", "fn", "--version", "3", "--max-p99-ratio", "off", "--max-error-rate-delta", "off"
    )
    gates = cli.config_from_args(args).gates
    assert gates.max_p99_ratio is None and gates.max_error_rate_delta is None and not gates.with_latency


def test_emf_flags_name_the_server_errors_source():
    # WHEN parsing the three --emf-* flags
    args = _parse(
        "--function", "fn", "--version", "3",
        "--emf-namespace", "fnkit", "--emf-service", "my-stack", "--emf-model", "digits",
    )  # fmt: skip

    # THEN the gates read ServerErrors from there; without them, from nowhere
    gates = cli.config_from_args(args).gates
    assert gates.emf == EmfSource(namespace="fnkit", service="my-stack", model="digits")
    assert cli.config_from_args(_parse("--function", "fn", "--version", "3")).gates.emf is None


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--version", "3"], id="no-function"),
        pytest.param(["--function", "fn"], id="no-version-or-image"),
        pytest.param(["--function", "fn", "--version", "3", "--publish-image", "uri"], id="both"),
        pytest.param(["--function", "fn", "--version", "3", "--on-resume", "restart"], id="bad-on-resume"),
    ],
)
def test_argparse_rejects_bad_usage_with_exit_2(argv: list[str]):
    with pytest.raises(SystemExit) as exc:
        _parse(*argv)
    assert exc.value.code == 2


def test_missing_aws_region_is_exit_2_with_a_report(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # GIVEN no region anywhere boto3 looks (environment, config file, profile)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    report = tmp_path / "report.json"
    args = _parse("--function", "fn", "--version", "3", "--report", str(report))

    # WHEN running the promotion with the standard boto3 clients
    code = cli.run(args)

    # THEN a precondition error (exit 2), not a traceback, and the report says why
    assert code == 2
    written = json.loads(report.read_text())
    assert written["outcome"] == "precondition_failed" and "NoRegionError" in written["reason"]
