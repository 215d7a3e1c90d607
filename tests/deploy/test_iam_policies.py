"""The IAM policies docs/deploy.md documents for CI: valid JSON, and the promote role narrow enough.

The promote policy must allow every AWS call the promote job makes (the workflow's `aws` CLI calls
and the boto3 calls of `fnkit_ops.promote` on CI's path) and nothing that changes code, configuration,
roles or the stack; the deploy policy may create roles only with the permissions boundary.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "deploy.md"
PROMOTE_SOURCES = REPO / "scripts" / "fnkit_ops" / "promote"
ONLY_WITH_IMAGE = {"lambda:UpdateFunctionCode", "lambda:PublishVersion"}
"""`fnkit promote --image` publishes an image itself; CI passes --version, and the docs say so."""
BOTO3_TO_IAM = {"invoke": "InvokeFunction"}
"""boto3 method -> IAM action name where they differ (else the CamelCased method)."""
SERVICE_OF_CLIENT = {
    "client": "lambda",
    "_client": "lambda",
    "cloudwatch": "cloudwatch",
    "_cloudwatch": "cloudwatch",
}


def _policy(heading: str, index: int = 0) -> dict[str, Any]:
    section = DOCS.read_text().split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    blocks = re.findall(r"```json\n(.*?)```", section, re.DOTALL)
    policy: dict[str, Any] = json.loads(blocks[index])
    return policy


def _actions(policy: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        found += [actions] if isinstance(actions, str) else actions
    return found


def _allows(policy: dict[str, Any], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action, pattern) for pattern in _actions(policy))


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def promote_job_calls() -> set[str]:
    """IAM actions of the promote job: its `aws` CLI commands and fnkit_ops.promote's boto3 calls."""
    calls: set[str] = set()
    workflow = (REPO / ".github" / "workflows" / "deploy.yml").read_text()
    promote = workflow.split("\n  promote:\n", 1)[1]
    for service, command in re.findall(r"\baws (cloudformation|lambda) ([a-z-]+)", promote):
        calls.add(f"{service}:{_camel(command.replace('-', '_'))}")
    for path in PROMOTE_SOURCES.glob("*.py"):
        text = path.read_text()
        for client, method in re.findall(r"\b(client|_client|cloudwatch|_cloudwatch)\.([a-z_]+)\(", text):
            if method in ("get_waiter", "get_paginator"):
                continue
            calls.add(f"{SERVICE_OF_CLIENT[client]}:{BOTO3_TO_IAM.get(method, _camel(method))}")
        for operation in re.findall(r'get_paginator\("([a-z_]+)"\)', text):
            calls.add(f"cloudwatch:{_camel(operation)}")
        if "get_waiter(" in text:
            calls |= {"lambda:GetFunction", "lambda:GetFunctionConfiguration"}
    return calls


def test_the_policies_are_valid_json_documents():
    for heading in ("The deploy role", "The promote role"):
        policy = _policy(heading)
        assert policy["Version"] == "2012-10-17" and policy["Statement"]
    assert _policy("The deploy role", 1)["Statement"]  # the boundary


def test_the_promote_policy_allows_every_call_of_the_promote_job():
    calls = promote_job_calls()
    assert {"lambda:UpdateAlias", "lambda:InvokeFunction", "cloudwatch:GetMetricData"} <= calls
    missing = sorted(c for c in calls - ONLY_WITH_IMAGE if not _allows(_policy("The promote role"), c))
    assert missing == []


@pytest.mark.parametrize(
    "action",
    [
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:PublishVersion",
        "lambda:CreateFunction",
        "lambda:AddPermission",
        "iam:PassRole",
        "iam:CreateRole",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:UpdateStack",
        "ecr:PutImage",
        "cloudwatch:DeleteAlarms",
        "logs:DeleteLogGroup",
    ],
)
def test_the_promote_policy_cannot_change_code_configuration_roles_or_the_stack(action):
    assert not _allows(_policy("The promote role"), action)
    # AND the deploy role, which can do most of these, is a different document
    assert (
        action.startswith("cloudwatch:Delete")
        or _allows(_policy("The deploy role"), action)
        or (action == "cloudformation:UpdateStack")
    )


def test_the_deploy_role_creates_roles_only_with_the_boundary():
    policy = _policy("The deploy role")
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(a in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy") for a in actions):
            condition = statement["Condition"]["StringEquals"]["iam:PermissionsBoundary"]
            assert condition.endswith(":policy/fnkit-function-boundary")
    actions = _actions(policy)
    assert not any(
        a in ("iam:*", "*") or (a.startswith("iam:Create") and a != "iam:CreateRole") for a in actions
    )
