"""What the rendered stack does for the security review, per model setting (no AWS, no Docker)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from fnkit_build.registry import load_registry
from fnkit_ops.render import cfn
from fnkit_ops.render.template import render_template, template

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits():
    return load_registry(REPO / "models.toml").models["digits"]


def _with_stack(spec, **changes):
    return dataclasses.replace(spec, stack=dataclasses.replace(spec.stack, **changes))


def test_tracing_on_makes_the_function_active_and_lets_its_role_write_traces(digits):
    # GIVEN digits with function.tracing = true
    rendered = template([_with_stack(digits, tracing=True)])
    function = rendered["Resources"]["DigitsFunction"]
    statements = rendered["Resources"]["DigitsFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    # THEN Active tracing, the X-Ray write actions, and no recorded tracing skip
    assert function["Properties"]["Tracing"] == "Active"
    assert any("xray:PutTraceSegments" in s["Action"] for s in statements["Statement"])
    assert "WS1000" not in function["Metadata"]["cfn-lint"]["config"]["ignore_checks"]


def test_tracing_off_keeps_the_role_to_its_log_group_and_records_why(digits):
    rendered = template([_with_stack(digits, tracing=False)])
    function = rendered["Resources"]["DigitsFunction"]
    statements = rendered["Resources"]["DigitsFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert "Tracing" not in function["Properties"]
    assert [s["Action"] for s in statements["Statement"]] == [["logs:CreateLogStream", "logs:PutLogEvents"]]
    assert "WS1000" in function["Metadata"]["fnkit"]["lint_reasons"]


def test_reserved_concurrency_from_the_registry_replaces_the_skip(digits):
    without = template([_with_stack(digits, reserved_concurrency=None)])["Resources"]["DigitsFunction"]
    with_ = template([_with_stack(digits, reserved_concurrency=20)])["Resources"]["DigitsFunction"]
    assert "CKV_AWS_115" in {s["id"] for s in without["Metadata"]["checkov"]["skip"]}
    assert with_["Properties"]["ReservedConcurrentExecutions"] == 20
    assert "CKV_AWS_115" not in {s["id"] for s in with_["Metadata"]["checkov"]["skip"]}


def test_every_role_takes_the_permissions_boundary_and_every_log_group_the_kms_key(digits):
    resources = template([digits])["Resources"]
    roles = [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"]
    groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert roles and all(
        r["Properties"]["PermissionsBoundary"]
        == cfn.if_("HasPermissionsBoundary", cfn.ref("PermissionsBoundaryArn"), cfn.NO_VALUE)
        for r in roles
    )
    assert len(groups) == 2 and all(
        g["Properties"]["KmsKeyId"] == cfn.if_("HasLogsKmsKey", cfn.ref("LogsKmsKeyArn"), cfn.NO_VALUE)
        for g in groups
    )


def test_the_api_logs_each_request_without_its_body(digits):
    api = template([digits])["Resources"]["HttpApi"]["Properties"]
    settings = api["AccessLogSettings"]
    assert settings["DestinationArn"] == cfn.get_att("ApiAccessLogGroup.Arn")
    fields = yaml.safe_load(settings["Format"])
    assert {"requestId", "routeKey", "status"} <= set(fields)
    assert not any("body" in v.lower() or "header" in v.lower() for v in fields.values())


def test_a_traced_template_still_lints_clean(digits):
    from cfnlint.api import lint
    from cfnlint.config import ManualArgs

    text = render_template([_with_stack(digits, tracing=True, reserved_concurrency=5)])
    config = ManualArgs(
        regions=["us-east-1"], include_checks=["I"], append_rules=["cfn_lint_serverless.rules"]
    )
    assert [str(f) for f in lint(text, config=config)] == []
