"""The stack's answers to the security linters (checkov, cfn-lint with the serverless rules).

What is right for fnkit is built in: HTTP API access logs, X-Ray tracing per model (models.toml
`function.tracing`), an optional KMS key for every log group (`LogsKmsKeyArn`), an optional
permissions boundary on the functions' roles (`PermissionsBoundaryArn`), reserved concurrency per
model when the registry sets it. Each check that does not apply is skipped on the resource it is
about, in its `Metadata`, with the reason: checkov reads `checkov.skip[].comment`, cfn-lint reads
`cfn-lint.config.ignore_checks` (it has no field for a reason, so the reasons sit beside it, under
`fnkit.lint_reasons`). `tests/deploy/test_lint.py` fails on any finding without one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fnkit_build.registry import ModelSpec

from fnkit_ops.render import cfn

ACCESS_LOG_GROUP = "ApiAccessLogGroup"
HAS_LOGS_KMS_KEY = "HasLogsKmsKey"
HAS_PERMISSIONS_BOUNDARY = "HasPermissionsBoundary"
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}
"""One JSON line per request: who, which route, the answer's status and size, how long Lambda took.
Never the body, the headers or the query string (a client's inputs stay out of the logs)."""


@dataclass(frozen=True)
class Skip:
    """A linter check that does not apply to one resource, and why."""

    check: str
    reason: str


DLQ = Skip(
    "CKV_AWS_116",
    "every invocation is synchronous (HTTP API, direct invoke by fnkit promote): the caller gets the "
    "error, there is no asynchronous event to dead-letter",
)
VPC = Skip(
    "CKV_AWS_117",
    "the function calls no network service (it reads its image and writes logs); a VPC would add ENIs, "
    "NAT cost and cold-start risk and protect nothing",
)
ENV_ENCRYPTION = Skip(
    "CKV_AWS_173",
    "the environment holds the model name, flags and powertools settings, no secret; Lambda encrypts it "
    "at rest with its own key",
)
LOG_GROUP_BY_NAME = Skip(
    "WS1004",
    "the function writes to its own log group through LoggingConfig.LogGroup, which has RetentionInDays; "
    "the rule only looks for a group named /aws/lambda/<FunctionName>",
)


def _no_reserved_concurrency(spec: ModelSpec) -> Skip:
    return Skip(
        "CKV_AWS_115",
        f"models.toml sets no function.reserved_concurrency for {spec.name}: it shares the account's "
        "unreserved pool (a reservation needs account headroom), and the HTTP API's throttling "
        "(ApiThrottlingRateLimit/BurstLimit) caps its traffic; set it to reserve and cap concurrency",
    )


def _no_tracing(spec: ModelSpec) -> Skip:
    return Skip(
        "WS1000",
        f"X-Ray tracing is off for {spec.name} (models.toml function.tracing = false, the default: traces "
        "cost per request and EMF metrics already time each one); set it to true for Active tracing",
    )


def metadata(checkov: list[Skip], cfn_lint: list[Skip]) -> dict[str, Any]:
    """The Metadata entries that record `checkov` and `cfn-lint` skips with their reasons."""
    result: dict[str, Any] = {}
    if checkov:
        result["checkov"] = {"skip": [{"id": s.check, "comment": s.reason} for s in checkov]}
    if cfn_lint:
        result["cfn-lint"] = {"config": {"ignore_checks": [s.check for s in cfn_lint]}}
        result["fnkit"] = {"lint_reasons": {s.check: s.reason for s in cfn_lint}}
    return result


def function_metadata(spec: ModelSpec) -> dict[str, Any]:
    checkov = [DLQ, VPC, ENV_ENCRYPTION]
    if spec.stack.reserved_concurrency is None:
        checkov.append(_no_reserved_concurrency(spec))
    cfn_lint = [LOG_GROUP_BY_NAME]
    if not spec.stack.tracing:
        cfn_lint.append(_no_tracing(spec))
    return metadata(checkov, cfn_lint)


def logs_kms_key() -> Any:
    """A log group's KmsKeyId: the LogsKmsKeyArn parameter's key, or none."""
    return cfn.if_(HAS_LOGS_KMS_KEY, cfn.ref("LogsKmsKeyArn"), cfn.NO_VALUE)


def permissions_boundary() -> Any:
    return cfn.if_(HAS_PERMISSIONS_BOUNDARY, cfn.ref("PermissionsBoundaryArn"), cfn.NO_VALUE)


def tracing_statement() -> dict[str, Any]:
    """What Active tracing needs: X-Ray's write actions take no resource ARN."""
    return {
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        "Resource": "*",
    }


def parameters() -> dict[str, Any]:
    return {
        "LogsKmsKeyArn": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^(arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+)?$",
            "ConstraintDescription": "a KMS key ARN, or empty",
            "Description": "KMS key that encrypts the functions' and the API's log groups (its key policy "
            "must allow logs.REGION.amazonaws.com). Empty: CloudWatch Logs' own encryption.",
        },
        "PermissionsBoundaryArn": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^(arn:[a-z-]+:iam::[0-9]{12}:policy/.+)?$",
            "ConstraintDescription": "an IAM managed policy ARN, or empty",
            "Description": "Permissions boundary set on each function's role (a deploy role may be allowed "
            "to create roles only with it, docs/deploy.md). Empty: no boundary.",
        },
    }


def conditions() -> dict[str, Any]:
    return {
        HAS_LOGS_KMS_KEY: cfn.not_(cfn.equals(cfn.ref("LogsKmsKeyArn"), "")),
        HAS_PERMISSIONS_BOUNDARY: cfn.not_(cfn.equals(cfn.ref("PermissionsBoundaryArn"), "")),
    }


def access_log_group() -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::LogGroup",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "LogGroupName": cfn.sub("/aws/apigateway/${AWS::StackName}/access"),
            "RetentionInDays": cfn.ref("LogRetentionInDays"),
            "KmsKeyId": logs_kms_key(),
        },
    }


def access_log_settings() -> dict[str, Any]:
    return {
        "DestinationArn": cfn.get_att(f"{ACCESS_LOG_GROUP}.Arn"),
        "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
    }
