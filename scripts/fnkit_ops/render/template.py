"""template.yaml from the registry: the stack's fixed part, then one block of resources per model.

Per model: the image function (memory, architecture, timeout, concurrency, SnapStart from the
registry), its log group and least-privilege role, the `live` alias with its bootstrap version (fnkit
strategy), the API routes and invoke permission, three per-version alarms and a dashboard row, and
the outputs CI reads. docs/deploy.md explains the design; the comments below say why where it is
not obvious.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fnkit_build.registry import ModelSpec
from fnkit_build.stack import logical_prefix
from fnkit_runtime import constants as c

from fnkit_ops.render import cfn, security
from fnkit_ops.render.docker import DOCKER_CONTEXT, DOCKERFILE, build_args
from fnkit_ops.render.files import header

NAMESPACE = c.DEFAULT_NAMESPACE
CODEDEPLOY_TYPES = (
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
    "AllAtOnce",
)
"""CodeDeploy's predefined Lambda configurations, as SAM names them. cfn-lint does not check
DeploymentPreference.Type, so this list is the only guard against e.g. Canary10Percent7Minutes."""
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653)
HEADER = """\
#
# The stack: one container-image Lambda function per model in models.toml, each behind an HTTP API
# route to its `live` alias, with per-version alarms and a dashboard (docs/deploy.md).
#
# Function settings are written per function, not taken from Parameters, on purpose: SAM decides
# whether to publish a version by hashing the function's properties with references unresolved, so
# a parameter change would reach $LATEST but never a published version, and so never `live`.
#
# `live` under DeploymentStrategy=fnkit: CloudFormation creates it once, at the version published
# with the stack, and never updates it (none of its properties ever change); `fnkit promote` alone
# moves it. Under codedeploy, SAM's AutoPublishAlias is `live` and CodeDeploy shifts it.
#
# Per-version alarms judge the version this stack published last on its own traffic through
# `live` (AWS/Lambda: FunctionName + Resource + ExecutedVersion; EMF: service + model +
# function_version). TreatMissingData `missing`: no invocations is no evidence of health. The EMF
# ServerErrors count exists only when an error happens, so it is FILLed with 0 in the rate.
# Percentiles are evaluated on few samples and need 2 of 3 periods (one cold start is not enough).
"""


def parameters() -> dict[str, Any]:
    return {
        "Auth": {
            "Type": "String",
            "Default": "IAM",
            "AllowedValues": ["NONE", "IAM", "JWT"],
            "Description": "Who may call the API. IAM (default): SigV4-signed requests from principals "
            "allowed execute-api:Invoke. JWT: bearer tokens from JwtIssuer for JwtAudience. NONE: public.",
        },
        "JwtIssuer": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^(https://[^\\s]+)?$",
            "ConstraintDescription": "an https:// issuer URL, or empty when Auth is not JWT",
            "Description": "JWT issuer URL (Auth=JWT only), e.g. https://cognito-idp.REGION.amazonaws.com/POOL_ID",
        },
        "JwtAudience": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^[^\\s,]*$",
            "ConstraintDescription": "one audience (client id) without spaces or commas, or empty",
            "Description": "JWT audience (Auth=JWT only)",
        },
        "DeploymentStrategy": {
            "Type": "String",
            "Default": "fnkit",
            "AllowedValues": ["fnkit", "codedeploy"],
            "Description": "Who moves the `live` alias. fnkit (default): `sam deploy` publishes a version "
            "to the `candidate` alias and never touches `live`; `fnkit promote` shifts `live`. codedeploy: "
            "SAM's DeploymentPreference shifts `live` with CodeDeployType. Chosen when the stack is created.",
        },
        "StackPublishAlias": {
            "Type": "String",
            "Default": "candidate",
            "AllowedValues": ["candidate", "live"],
            "Description": "The alias `sam deploy` points at each version it publishes (SAM "
            "AutoPublishAlias). Must be `candidate` with DeploymentStrategy=fnkit and `live` with "
            "codedeploy (enforced by Rules).",
        },
        "CodeDeployType": {
            "Type": "String",
            "Default": CODEDEPLOY_TYPES[0],
            "AllowedValues": list(CODEDEPLOY_TYPES),
            "Description": "Traffic-shifting configuration when DeploymentStrategy=codedeploy",
        },
        "LogRetentionInDays": {
            "Type": "Number",
            "Default": 30,
            "AllowedValues": list(RETENTION_DAYS),
            "Description": "Retention of each function's log group",
        },
        "ApiThrottlingRateLimit": {
            "Type": "Number",
            "Default": 50,
            "MinValue": 1,
            "MaxValue": 10000,
            "Description": "Steady-state requests per second per route",
        },
        "ApiThrottlingBurstLimit": {
            "Type": "Number",
            "Default": 100,
            "MinValue": 1,
            "MaxValue": 5000,
            "Description": "Burst requests per route",
        },
        **security.parameters(),
    }


def rules() -> dict[str, Any]:
    def rule(param: str, value: str, asserts: list[tuple[Any, str]]) -> dict[str, Any]:
        return {
            "RuleCondition": cfn.equals(cfn.ref(param), value),
            "Assertions": [{"Assert": test, "AssertDescription": text} for test, text in asserts],
        }

    return {
        "JwtNeedsIssuerAndAudience": rule(
            "Auth",
            "JWT",
            [
                (cfn.not_(cfn.equals(cfn.ref("JwtIssuer"), "")), "Auth=JWT needs JwtIssuer"),
                (cfn.not_(cfn.equals(cfn.ref("JwtAudience"), "")), "Auth=JWT needs JwtAudience"),
            ],
        ),
        "FnkitPublishesToCandidate": rule(
            "DeploymentStrategy",
            "fnkit",
            [
                (
                    cfn.equals(cfn.ref("StackPublishAlias"), "candidate"),
                    "DeploymentStrategy=fnkit needs StackPublishAlias=candidate (fnkit promote owns live)",
                )
            ],
        ),
        "CodeDeployShiftsLive": rule(
            "DeploymentStrategy",
            "codedeploy",
            [
                (
                    cfn.equals(cfn.ref("StackPublishAlias"), "live"),
                    "DeploymentStrategy=codedeploy needs StackPublishAlias=live (CodeDeploy shifts live)",
                )
            ],
        ),
    }


def globals_() -> dict[str, Any]:
    return {
        "Function": {
            # SAM publishes a version whenever the image or a function property changes and points
            # this alias at it: `candidate` (fnkit) or `live` (codedeploy, through CodeDeploy).
            "AutoPublishAlias": cfn.ref("StackPublishAlias"),
            "Environment": {
                "Variables": {
                    c.LOAD_AT_INIT_ENV: "false",
                    c.SERVICE_NAME_ENV: cfn.ref("AWS::StackName"),
                    c.METRICS_NAMESPACE_ENV: NAMESPACE,
                    c.LOG_LEVEL_ENV: "INFO",
                }
            },
        }
    }


def function_environment(spec: ModelSpec) -> dict[str, Any]:
    """The function's Environment Variables as deployed: the Globals' with the function's own on top."""
    shared = globals_()["Function"]["Environment"]["Variables"]
    own = function(spec)["Properties"]["Environment"]["Variables"]
    return {**shared, **own}


def _live(prefix: str) -> cfn.Tag:
    """The alias the API invokes: fnkit's own `live`, or SAM's AutoPublishAlias under codedeploy."""
    return cfn.if_("IsFnkit", cfn.ref(f"{prefix}LiveAlias"), cfn.ref(f"{prefix}Function.Alias"))


def function(spec: ModelSpec) -> dict[str, Any]:
    prefix, stack = logical_prefix(spec.name), spec.stack
    variables: dict[str, Any] = {c.MODEL_NAME_ENV: spec.name}
    if stack.load_at_init:
        variables[c.LOAD_AT_INIT_ENV] = "true"
    properties: dict[str, Any] = {
        "Description": f"fnkit model {spec.name}",
        "PackageType": "Image",
        "AutoPublishAliasAllProperties": True,
        "MemorySize": spec.function.memory_mb,
        "Timeout": stack.timeout_s,
        "Architectures": [spec.function.architecture],
        "Role": cfn.get_att(f"{prefix}FunctionRole.Arn"),
        "LoggingConfig": {"LogGroup": cfn.ref(f"{prefix}LogGroup"), "LogFormat": "Text"},
        "Environment": {"Variables": variables},
    }
    if stack.reserved_concurrency is not None:
        properties["ReservedConcurrentExecutions"] = stack.reserved_concurrency
    if stack.provisioned_concurrency is not None:
        properties["ProvisionedConcurrencyConfig"] = {
            "ProvisionedConcurrentExecutions": stack.provisioned_concurrency
        }
    if stack.snapstart:
        properties["SnapStart"] = {"ApplyOn": "PublishedVersions"}
    if stack.tracing:
        properties["Tracing"] = "Active"
    properties["DeploymentPreference"] = {
        "Enabled": cfn.find_in_map("Strategy", cfn.ref("DeploymentStrategy"), "CodeDeploy"),
        "Type": cfn.ref("CodeDeployType"),
        "Alarms": [cfn.ref(f"{prefix}{alarm}") for alarm in ALARMS],
    }
    return {
        "Type": "AWS::Serverless::Function",
        "Metadata": {
            "DockerContext": DOCKER_CONTEXT,
            "Dockerfile": DOCKERFILE,
            "DockerTag": spec.name,
            "DockerBuildArgs": build_args(spec),
            **security.function_metadata(spec),
        },
        "Properties": properties,
    }


def log_group(spec: ModelSpec) -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::LogGroup",
        # Logs go with the stack: a kept group of this name would block re-creating it.
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "LogGroupName": cfn.sub(f"/aws/lambda/${{AWS::StackName}}/{spec.name}"),
            "RetentionInDays": cfn.ref("LogRetentionInDays"),
            "KmsKeyId": security.logs_kms_key(),
        },
    }


def role(spec: ModelSpec) -> dict[str, Any]:
    """May only write streams of the function's own log group (image pulls use the ECR policy), and
    traces when the model's tracing is on; bounded by PermissionsBoundaryArn when it is set."""
    prefix = logical_prefix(spec.name)
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": cfn.get_att(f"{prefix}LogGroup.Arn"),
        }
    ]
    if spec.stack.tracing:
        statements.append(security.tracing_statement())
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "PermissionsBoundary": security.permissions_boundary(),
            "Policies": [
                {
                    "PolicyName": "write-own-log-group",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                }
            ],
        },
    }


def live_alias(spec: ModelSpec) -> dict[str, dict[str, Any]]:
    prefix = logical_prefix(spec.name)
    return {
        f"{prefix}LiveBootstrapVersion": {
            "Type": "AWS::Lambda::Version",
            "Condition": "IsFnkit",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "FunctionName": cfn.ref(f"{prefix}Function"),
                # Referencing the candidate alias orders this publish after SAM's; the alias ARN never
                # changes, so neither does this resource.
                "Description": cfn.sub(
                    "fnkit: the version live started at; published after ${Candidate}",
                    {"Candidate": cfn.ref(f"{prefix}Function.Alias")},
                ),
            },
        },
        f"{prefix}LiveAlias": {
            "Type": "AWS::Lambda::Alias",
            "Condition": "IsFnkit",
            "Properties": {
                "Name": "live",
                "FunctionName": cfn.ref(f"{prefix}Function"),
                "FunctionVersion": cfn.get_att(f"{prefix}LiveBootstrapVersion.Version"),
            },
        },
    }


def _route(spec: ModelSpec) -> dict[str, Any]:
    live = cfn.sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Live}/invocations",
        {"Live": _live(logical_prefix(spec.name))},
    )
    return {
        "security": cfn.if_(
            "IsIamAuth",
            [{"AWS_IAM": []}],
            cfn.if_("IsJwtAuth", [{"JwtAuthorizer": []}], cfn.NO_VALUE),
        ),
        "x-amazon-apigateway-integration": {
            "type": "aws_proxy",
            "httpMethod": "POST",
            "payloadFormatVersion": "2.0",
            "uri": live,
        },
    }


def routes(spec: ModelSpec) -> dict[str, Any]:
    """POST /MODEL/predict and GET /MODEL/health, both to the model's `live` alias."""
    predict = next(p for p in c.PREDICT_PATHS if "<model>" in p).replace("<model>", spec.name)
    health = next(p for p in c.HEALTH_PATHS if "<model>" in p).replace("<model>", spec.name)
    return {predict: {"post": _route(spec)}, health: {"get": _route(spec)}}


def http_api(specs: Sequence[ModelSpec]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for spec in specs:
        paths.update(routes(spec))
    schemes = cfn.if_(
        "IsIamAuth",
        {
            "AWS_IAM": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "x-amazon-apigateway-authtype": "awsSigv4",
            }
        },
        cfn.if_(
            "IsJwtAuth",
            {
                "JwtAuthorizer": {
                    "type": "oauth2",
                    "x-amazon-apigateway-authorizer": {
                        "type": "jwt",
                        "identitySource": "$request.header.Authorization",
                        "jwtConfiguration": {
                            "issuer": cfn.ref("JwtIssuer"),
                            "audience": [cfn.ref("JwtAudience")],
                        },
                    },
                }
            },
            cfn.NO_VALUE,
        ),
    )
    return {
        "Type": "AWS::Serverless::HttpApi",
        "Properties": {
            "Description": cfn.sub("fnkit inference API (${AWS::StackName})"),
            "AccessLogSettings": security.access_log_settings(),
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": cfn.ref("ApiThrottlingBurstLimit"),
                "ThrottlingRateLimit": cfn.ref("ApiThrottlingRateLimit"),
            },
            "DefinitionBody": {
                "openapi": "3.0.1",
                "info": {"title": cfn.sub("${AWS::StackName}-fnkit"), "version": "1.0"},
                "paths": paths,
                "components": {"securitySchemes": schemes},
            },
        },
    }


def permission(spec: ModelSpec) -> dict[str, Any]:
    """API Gateway may invoke the `live` alias, and only from this API's MODEL routes."""
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "Principal": "apigateway.amazonaws.com",
            "FunctionName": _live(logical_prefix(spec.name)),
            "SourceArn": cfn.sub(
                "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}"
                f"/*/*/{spec.name}/*"
            ),
        },
    }


ALARMS = ("VersionErrorRateAlarm", "VersionDurationP99Alarm", "VersionInferenceP99Alarm")


def _lambda_dims(prefix: str) -> list[dict[str, Any]]:
    return [
        {"Name": "FunctionName", "Value": cfn.ref(f"{prefix}Function")},
        {"Name": "Resource", "Value": cfn.sub(f"${{{prefix}Function}}:live")},
        {"Name": "ExecutedVersion", "Value": cfn.get_att(f"{prefix}Function.Version.Version")},
    ]


def _emf_dims(spec: ModelSpec) -> list[dict[str, Any]]:
    prefix = logical_prefix(spec.name)
    return [
        {"Name": "service", "Value": cfn.ref("AWS::StackName")},
        {"Name": "model", "Value": spec.name},
        {"Name": "function_version", "Value": cfn.get_att(f"{prefix}Function.Version.Version")},
    ]


def _stat(metric_id: str, namespace: str, name: str, dims: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Id": metric_id,
        "ReturnData": False,
        "MetricStat": {
            "Period": 60,
            "Stat": "Sum",
            "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dims},
        },
    }


def _p99_alarm(name: str, description: str, metric: dict[str, Any], threshold: float) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": cfn.sub(name),
            "AlarmDescription": description,
            **metric,
            "ExtendedStatistic": "p99",
            "Period": 60,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluateLowSampleCountPercentile": "evaluate",
            "TreatMissingData": "missing",
        },
    }


def alarms(spec: ModelSpec) -> dict[str, dict[str, Any]]:
    prefix, model, limits = logical_prefix(spec.name), spec.name, spec.stack.alarms
    lambda_dims = _lambda_dims(prefix)
    error_rate = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": cfn.sub(f"${{AWS::StackName}}-{model}-version-error-rate"),
            "AlarmDescription": f"Error rate (%) of the latest published {model} version, Lambda errors "
            "plus 5xx answers",
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": limits.error_rate_percent,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "TreatMissingData": "missing",
            "Metrics": [
                _stat("invocations", "AWS/Lambda", "Invocations", lambda_dims),
                _stat("lambdaerrors", "AWS/Lambda", "Errors", lambda_dims),
                _stat("servererrors", NAMESPACE, "ServerErrors", _emf_dims(spec)),
                {
                    "Id": "errorrate",
                    "Label": "error rate (%)",
                    "ReturnData": True,
                    "Expression": "100 * (FILL(lambdaerrors, 0) + FILL(servererrors, 0)) / invocations",
                },
            ],
        },
    }
    duration = _p99_alarm(
        f"${{AWS::StackName}}-{model}-version-duration-p99",
        f"p99 Lambda Duration of the latest published {model} version behind live",
        {"Namespace": "AWS/Lambda", "MetricName": "Duration", "Dimensions": lambda_dims},
        limits.duration_p99_ms,
    )
    inference = _p99_alarm(
        f"${{AWS::StackName}}-{model}-version-inference-p99",
        f"p99 InferenceTime (EMF) of the latest published {model} version",
        {"Namespace": NAMESPACE, "MetricName": "InferenceTime", "Dimensions": _emf_dims(spec)},
        limits.inference_p99_ms,
    )
    return {
        f"{prefix}{name}": alarm
        for name, alarm in zip(ALARMS, (error_rate, duration, inference), strict=True)
    }


def _search(namespace_dims: str, metric: str, where: str, stat: str) -> str:
    return f"SEARCH('{{{namespace_dims}}} MetricName=\"{metric}\" {where}', '{stat}', 60)"


def dashboard_widgets(spec: ModelSpec, row: int) -> list[dict[str, Any]]:
    """One row per model; SEARCH draws one line per version, so a canary and its predecessor compare."""
    prefix, model, y = logical_prefix(spec.name), spec.name, row * 7
    lam, lam_where = (
        "AWS/Lambda,ExecutedVersion,FunctionName,Resource",
        f'FunctionName="${{{prefix}Function}}"',
    )
    emf, emf_where = (
        f"{NAMESPACE},function_version,model,service",
        f'model="{model}" service="${{AWS::StackName}}"',
    )

    def metric(x: int, title: str, metrics: list[Any], stat: str | None = None) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "title": f"{model}: {title}",
            "region": "${AWS::Region}",
            "view": "timeSeries",
        }
        if stat:
            properties["stat"] = stat
        properties.update({"period": 60, "metrics": metrics})
        return {"type": "metric", "x": x, "y": y + 1, "width": 6, "height": 6, "properties": properties}

    def expr(metric_id: str, expression: str) -> list[dict[str, str]]:
        return [{"id": metric_id, "expression": expression}]

    return [
        {"type": "text", "x": 0, "y": y, "width": 24, "height": 1, "properties": {"markdown": f"## {model}"}},
        metric(
            0,
            "invocations by version (live)",
            [expr("inv", _search(lam, "Invocations", lam_where, "Sum"))],
            "Sum",
        ),
        metric(
            6,
            "errors by version",
            [
                expr("lerr", _search(lam, "Errors", lam_where, "Sum")),
                expr("serr", _search(emf, "ServerErrors", emf_where, "Sum")),
                expr("cerr", _search(emf, "ClientErrors", emf_where, "Sum")),
            ],
            "Sum",
        ),
        metric(
            12,
            "latency percentiles by version (ms)",
            [
                expr("inf50", _search(emf, "InferenceTime", emf_where, "p50")),
                expr("inf99", _search(emf, "InferenceTime", emf_where, "p99")),
                expr("dur90", _search(lam, "Duration", lam_where, "p90")),
                expr("dur99", _search(lam, "Duration", lam_where, "p99")),
            ],
        ),
        metric(
            18,
            "cold starts and model loads by version",
            [
                [
                    NAMESPACE,
                    "ColdStart",
                    "function_name",
                    f"${{{prefix}Function}}",
                    "service",
                    "${AWS::StackName}",
                    {"stat": "Sum", "label": "ColdStart"},
                ],
                expr("loads", _search(emf, "ModelLoadTime", emf_where, "SampleCount")),
            ],
        ),
    ]


def dashboard(specs: Sequence[ModelSpec]) -> dict[str, Any]:
    widgets = [w for row, spec in enumerate(specs) for w in dashboard_widgets(spec, row)]
    body = json.dumps({"widgets": widgets}, indent=1)
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {"DashboardName": cfn.sub("${AWS::StackName}-fnkit"), "DashboardBody": cfn.sub(body)},
    }


def outputs(specs: Sequence[ModelSpec]) -> dict[str, Any]:
    def export(name: str) -> dict[str, Any]:
        return {"Name": cfn.sub(f"${{AWS::StackName}}-{name}")}

    result: dict[str, Any] = {
        "ApiUrl": {
            "Description": "Base URL of the HTTP API (POST {ApiUrl}MODEL/predict, GET {ApiUrl}MODEL/health)",
            "Value": cfn.sub("https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"),
            "Export": export("ApiUrl"),
        },
        "DeploymentStrategyInUse": {
            "Description": "Who moves the live aliases (fnkit promote or CodeDeploy)",
            "Value": cfn.ref("DeploymentStrategy"),
        },
        "DashboardName": {"Value": cfn.ref("Dashboard")},
    }
    for spec in specs:
        p, m = logical_prefix(spec.name), spec.name
        result[f"{p}FunctionName"] = {
            "Description": f"{m} function name (fnkit promote --function)",
            "Value": cfn.ref(f"{p}Function"),
            "Export": export(f"{p}FunctionName"),
        }
        result[f"{p}FunctionArn"] = {
            "Value": cfn.get_att(f"{p}Function.Arn"),
            "Export": export(f"{p}FunctionArn"),
        }
        result[f"{p}LiveAliasArn"] = {
            "Description": f"ARN of {m}'s live alias (what the API invokes)",
            "Value": _live(p),
            "Export": export(f"{p}LiveAliasArn"),
        }
        result[f"{p}PublishedVersion"] = {
            "Description": "The version the last deploy published "
            "(fnkit promote --version; CodeDeploy's target)",
            "Value": cfn.get_att(f"{p}Function.Version.Version"),
            "Export": export(f"{p}PublishedVersion"),
        }
        result[f"{p}AlarmNames"] = {
            "Description": "Per-version alarms of the published version "
            "(fnkit promote --alarm, comma-separated)",
            "Value": cfn.join(",", [cfn.ref(f"{p}{alarm}") for alarm in ALARMS]),
            "Export": export(f"{p}AlarmNames"),
        }
    return result


def template(specs: Sequence[ModelSpec]) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for spec in specs:
        prefix = logical_prefix(spec.name)
        resources[f"{prefix}Function"] = function(spec)
        resources[f"{prefix}LogGroup"] = log_group(spec)
        resources[f"{prefix}FunctionRole"] = role(spec)
        resources.update(live_alias(spec))
        resources[f"{prefix}ApiPermission"] = permission(spec)
        resources.update(alarms(spec))
    resources[security.ACCESS_LOG_GROUP] = security.access_log_group()
    resources["HttpApi"] = http_api(specs)
    resources["Dashboard"] = dashboard(specs)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": "fnkit: one container-image Lambda function per model in models.toml, each behind an "
        "HTTP API route to its `live` alias, with per-version alarms and a dashboard (docs/deploy.md).",
        "Parameters": parameters(),
        "Rules": rules(),
        "Mappings": {"Strategy": {"fnkit": {"CodeDeploy": "false"}, "codedeploy": {"CodeDeploy": "true"}}},
        "Conditions": {
            "IsFnkit": cfn.equals(cfn.ref("DeploymentStrategy"), "fnkit"),
            "IsIamAuth": cfn.equals(cfn.ref("Auth"), "IAM"),
            "IsJwtAuth": cfn.equals(cfn.ref("Auth"), "JWT"),
            **security.conditions(),
        },
        "Globals": globals_(),
        "Resources": resources,
        "Outputs": outputs(specs),
    }


def render_template(specs: Sequence[ModelSpec]) -> str:
    return header() + HEADER + cfn.dump(template(specs))
