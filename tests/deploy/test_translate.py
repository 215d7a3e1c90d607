"""template.yaml through the SAM translator, for every parameter combination that changes the stack."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fnkit_runtime import constants as c

FUNCTION_ROLE_PRINCIPAL = "lambda.amazonaws.com"


def _sam_version(t: Any, fn: str) -> str:
    """Logical id of the version SAM publishes for `fn` (AutoPublishAlias)."""
    (version,) = [
        str(i)
        for i, r in t.active("AWS::Lambda::Version").items()
        if i.startswith(f"{fn}Version") and r["Properties"]["FunctionName"] == {"Ref": fn}
    ]
    return version


def _aliases(t: Any, fn: str) -> dict[str, str]:
    """Alias name -> logical id, for the aliases of `fn` CloudFormation creates."""
    return {
        r["Properties"]["Name"]: i
        for i, r in t.active("AWS::Lambda::Alias").items()
        if r["Properties"]["FunctionName"] == {"Ref": fn}
    }


def _env(t: Any, fn: str) -> dict[str, Any]:
    variables: dict[str, Any] = t.resources[fn]["Properties"]["Environment"]["Variables"]
    return variables


def _dimensions(metric: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in metric["Dimensions"]}


def _alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """(Namespace, MetricName, Dimensions) of a single-metric or a metric-math alarm."""
    props = alarm["Properties"]
    if "Metrics" in props:
        return [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
    return [{k: props[k] for k in ("Namespace", "MetricName", "Dimensions")}]


def test_every_function_gets_a_version_and_a_live_alias(
    translated: Any, function_ids: dict[str, str]
) -> None:
    for fn in function_ids.values():
        # GIVEN the translated function, the version SAM publishes and the function's aliases
        version = _sam_version(translated, fn)
        aliases = _aliases(translated, fn)
        live = translated.resources[aliases["live"]]
        # THEN there is a `live` alias, and who moves it depends on the strategy
        assert translated.resources[fn]["Properties"]["Code"]["ImageUri"]
        if translated.values["DeploymentStrategy"] == "codedeploy":
            # SAM's alias is `live`; a new version reaches it only through CodeDeploy
            assert set(aliases) == {"live"}
            assert live["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version, "Version"]}
            assert "CodeDeployLambdaAliasUpdate" in live["UpdatePolicy"]
        else:
            # SAM's alias is `candidate`; `live` starts at a bootstrap version and is never re-pointed
            assert set(aliases) == {"live", "candidate"}
            candidate = translated.resources[aliases["candidate"]]
            assert candidate["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version, "Version"]}
            bootstrap, attribute = live["Properties"]["FunctionVersion"]["Fn::GetAtt"]
            assert attribute == "Version" and bootstrap != version
            assert "UpdatePolicy" not in live


def _fnkit_live_resources(t: Any, fn: str) -> dict[str, Any]:
    alias_id = _aliases(t, fn)["live"]
    bootstrap = t.resources[alias_id]["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    return {alias_id: t.resources[alias_id], bootstrap: t.resources[bootstrap]}


@pytest.mark.parametrize("change", ["new-image", "config-edit"])
def test_fnkit_deploy_publishes_a_candidate_and_leaves_live_alone(
    cfn: Any, function_ids: dict[str, str], change: str
) -> None:
    # GIVEN the stack as first deployed, and the same stack after a new image or a configuration edit
    doc = cfn.decode_template(cfn.TEMPLATE_PATH.read_text())
    before = cfn.CfnTemplate(cfn.translate(cfn.with_placeholder_images(doc), cfn.FNKIT), cfn.FNKIT)
    if change == "new-image":
        changed = cfn.with_placeholder_images(doc, image=cfn.PLACEHOLDER_IMAGE + "-next")
    else:
        changed = cfn.with_placeholder_images(copy.deepcopy(doc))
        for logical_id in function_ids.values():
            changed["Resources"][logical_id]["Properties"]["Timeout"] = 29  # models.toml function.timeout_s
    after = cfn.CfnTemplate(cfn.translate(changed, cfn.FNKIT), cfn.FNKIT)
    for fn in function_ids.values():
        # THEN the deploy publishes a new version to `candidate` (CloudFormation creates a new Version)
        assert _sam_version(after, fn) != _sam_version(before, fn)
        # AND `live` and the version it started at are unchanged, so CloudFormation does not update them:
        # whatever `fnkit promote` did to `live` (version, routing weights) stays as it is
        assert _fnkit_live_resources(after, fn) == _fnkit_live_resources(before, fn)


def test_codedeploy_deploy_of_a_new_image_shifts_live_through_codedeploy(
    cfn: Any, function_ids: dict[str, str]
) -> None:
    # GIVEN the codedeploy stack before and after a new image
    doc = cfn.decode_template(cfn.TEMPLATE_PATH.read_text())
    before = cfn.CfnTemplate(cfn.translate(cfn.with_placeholder_images(doc), cfn.CODEDEPLOY), cfn.CODEDEPLOY)
    after_doc = cfn.with_placeholder_images(doc, image=cfn.PLACEHOLDER_IMAGE + "-next")
    after = cfn.CfnTemplate(cfn.translate(after_doc, cfn.CODEDEPLOY), cfn.CODEDEPLOY)
    for fn in function_ids.values():
        live_before = before.resources[_aliases(before, fn)["live"]]
        live_after = after.resources[_aliases(after, fn)["live"]]
        # THEN `live` gets the new version, and the update is handed to CodeDeploy's deployment group
        assert live_after["Properties"]["FunctionVersion"] != live_before["Properties"]["FunctionVersion"]
        assert live_after["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"] == {
            "Ref": f"{fn}DeploymentGroup"
        }


def test_codedeploy_exists_only_with_the_codedeploy_strategy(
    translated: Any, function_ids: dict[str, str]
) -> None:
    # GIVEN the CodeDeploy deployment groups of the translated stack
    groups = translated.active("AWS::CodeDeploy::DeploymentGroup")
    if translated.values["DeploymentStrategy"] == "fnkit":
        # THEN with fnkit there are none
        assert groups == {}
        return
    for fn in function_ids.values():
        # THEN with codedeploy each function's group uses CodeDeployType, rolls back, and watches the
        # function's per-version alarms
        group = groups[f"{fn}DeploymentGroup"]["Properties"]
        assert group["DeploymentConfigName"]["Fn::Sub"][1] == {
            "ConfigName": translated.values["CodeDeployType"]
        }
        assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
        watched = {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]}
        assert len(watched) == 3 and all(
            translated.resources[a]["Type"] == "AWS::CloudWatch::Alarm" for a in watched
        )


def test_alarms_judge_the_published_version_on_its_own_numbers(
    translated: Any, function_ids: dict[str, str]
) -> None:
    for model, fn in function_ids.items():
        # GIVEN the alarms CodeDeploy and `fnkit promote` use for this function
        version = {"Fn::GetAtt": [_sam_version(translated, fn), "Version"]}
        env = _env(translated, fn)
        names = translated.doc["Outputs"][f"{fn.removesuffix('Function')}AlarmNames"]["Value"]["Fn::Join"][1]
        alarms = [translated.resources[n["Ref"]] for n in names]
        metrics = [m for a in alarms for m in _alarm_metrics(a)]
        lambda_metrics = [m for m in metrics if m["Namespace"] == "AWS/Lambda"]
        emf_metrics = [m for m in metrics if m["Namespace"] != "AWS/Lambda"]
        # THEN AWS/Lambda metrics are those of this version executed behind `live`
        assert {m["MetricName"] for m in lambda_metrics} == {"Invocations", "Errors", "Duration"}
        for m in lambda_metrics:
            assert _dimensions(m) == {
                "FunctionName": {"Ref": fn},
                "Resource": {"Fn::Sub": f"${{{fn}}}:live"},
                "ExecutedVersion": version,
            }
        # AND the EMF metrics are the function's own: its namespace, service, model and version
        assert {m["MetricName"] for m in emf_metrics} == {c.METRIC_INFERENCE_TIME, c.METRIC_SERVER_ERRORS}
        for m in emf_metrics:
            assert m["Namespace"] == env[c.METRICS_NAMESPACE_ENV]
            assert _dimensions(m) == {
                "service": env[c.SERVICE_NAME_ENV],
                c.DIMENSION_MODEL: model,
                c.DIMENSION_FUNCTION_VERSION: version,
            }
        # AND p99 latency is judged from both sources, and missing data is a stated choice everywhere
        p99 = {
            a["Properties"]["MetricName"] for a in alarms if a["Properties"].get("ExtendedStatistic") == "p99"
        }
        assert p99 == {"Duration", c.METRIC_INFERENCE_TIME}
        assert all(
            a["Properties"]["TreatMissingData"] in ("missing", "notBreaching", "breaching") for a in alarms
        )


def test_api_routes_invoke_each_models_live_alias(translated: Any, function_ids: dict[str, str]) -> None:
    (api,) = translated.active("AWS::ApiGatewayV2::Api").values()
    paths = api["Properties"]["Body"]["paths"]
    for model, fn in function_ids.items():
        live = {"Ref": _aliases(translated, fn)["live"]}
        for path, method in ((f"/{model}/predict", "post"), (f"/{model}/health", "get")):
            # GIVEN the route's integration
            integration = paths[path][method]["x-amazon-apigateway-integration"]
            # THEN it is a payload-2.0 proxy to the model's `live` alias
            assert (integration["type"], integration["payloadFormatVersion"]) == ("aws_proxy", "2.0")
            assert translated.evaluate(integration["uri"]["Fn::Sub"][1]["Live"]) == live
        # AND API Gateway may invoke that alias, from this model's routes only
        (permission,) = [
            p["Properties"]
            for p in translated.active("AWS::Lambda::Permission").values()
            if translated.evaluate(p["Properties"]["FunctionName"]) == live
        ]
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert permission["SourceArn"]["Fn::Sub"].endswith(f"/*/*/{model}/*")


def test_api_auth_and_throttling_follow_the_parameters(translated: Any, cfn: Any) -> None:
    (api,) = translated.active("AWS::ApiGatewayV2::Api").values()
    body = api["Properties"]["Body"]
    auth = translated.values["Auth"]
    # GIVEN the security requirement of every operation and the declared schemes
    requirements = [
        translated.evaluate(op["security"]) for item in body["paths"].values() for op in item.values()
    ]
    schemes = translated.evaluate(body["components"]["securitySchemes"])
    # THEN they match the Auth parameter
    if auth == "NONE":
        assert all(r is cfn.NO_VALUE for r in requirements) and schemes is cfn.NO_VALUE
    elif auth == "IAM":
        assert all(r == [{"AWS_IAM": []}] for r in requirements)
        assert schemes["AWS_IAM"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    else:
        assert all(r == [{"JwtAuthorizer": []}] for r in requirements)
        jwt = schemes["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]["jwtConfiguration"]
        assert translated.evaluate(jwt["issuer"]) == cfn.JWT["JwtIssuer"]
        assert [translated.evaluate(a) for a in jwt["audience"]] == [cfn.JWT["JwtAudience"]]
    # AND every route is throttled
    (stage,) = translated.active("AWS::ApiGatewayV2::Stage").values()
    assert set(stage["Properties"]["DefaultRouteSettings"]) == {"ThrottlingBurstLimit", "ThrottlingRateLimit"}


def test_function_roles_grant_no_wildcards(translated: Any, function_ids: dict[str, str], cfn: Any) -> None:
    for fn in function_ids.values():
        # GIVEN the role the function runs with
        role_id = translated.resources[fn]["Properties"]["Role"]["Fn::GetAtt"][0]
        role = translated.resources[role_id]["Properties"]
        log_group = translated.resources[fn]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
        # THEN it is assumable by Lambda only, has no managed policy, and no `*` in any action or resource
        principals = [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
        assert principals == [FUNCTION_ROLE_PRINCIPAL]
        assert "ManagedPolicyArns" not in role
        strings = [
            n for s in statements for n in cfn.walk([s["Action"], s["Resource"]]) if isinstance(n, str)
        ]
        assert not [s for s in strings if "*" in s]
        # AND it may only write to the function's own log group (its ARN ends with the log-stream `:*`)
        assert all(s["Resource"] == {"Fn::GetAtt": [log_group, "Arn"]} for s in statements)
        assert {a for s in statements for a in s["Action"]} == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_outputs_give_ci_the_url_and_the_arns(translated: Any, function_ids: dict[str, str]) -> None:
    outputs = translated.doc["Outputs"]
    # GIVEN the stack outputs
    # THEN the API URL and, per model, the function ARN, the live alias ARN and the published version
    assert "execute-api" in outputs["ApiUrl"]["Value"]["Fn::Sub"]
    for fn in function_ids.values():
        prefix = fn.removesuffix("Function")
        assert outputs[f"{prefix}FunctionArn"]["Value"] == {"Fn::GetAtt": [fn, "Arn"]}
        live = {"Ref": _aliases(translated, fn)["live"]}
        assert translated.evaluate(outputs[f"{prefix}LiveAliasArn"]["Value"]) == live
        assert outputs[f"{prefix}PublishedVersion"]["Value"] == {
            "Fn::GetAtt": [_sam_version(translated, fn), "Version"]
        }
    # AND every output CI reads is exported under a unique, stack-scoped name
    exports = [o["Export"]["Name"]["Fn::Sub"] for o in outputs.values() if "Export" in o]
    assert len(exports) == len(set(exports)) and all(e.startswith("${AWS::StackName}-") for e in exports)
