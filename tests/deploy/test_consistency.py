"""template.yaml against the tree: models.toml, Dockerfiles, events, runtime constants, samconfig.toml."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
from fnkit_runtime import constants as c

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENT_TYPES = ("rest-api", "http-api", "function-url", "direct", "warmup", "health")
PATH_KEYS = frozenset({"DockerContext", "Dockerfile", "CodeUri", "ContentUri", "DefinitionUri", "Location"})


def test_every_registry_model_has_exactly_one_function(
    models: dict[str, Any], function_ids: dict[str, str]
) -> None:
    # GIVEN the registry and the functions of the template (keyed by FNKIT_MODEL_NAME)
    # THEN they name the same models
    assert sorted(function_ids) == sorted(models)


def test_function_memory_and_architecture_come_from_the_registry(
    model: str, models: dict[str, Any], source: Any, function_ids: dict[str, str]
) -> None:
    # GIVEN the registry's function settings for this model
    wanted = models[model]["function"]
    # WHEN reading its function in the template
    props = source.resources[function_ids[model]]["Properties"]
    # THEN memory and architecture match
    assert props["MemorySize"] == wanted["memory_mb"]
    assert props["Architectures"] == [wanted["architecture"]]


def test_function_is_an_image_built_from_the_shared_dockerfile(
    model: str, models: dict[str, Any], source: Any, function_ids: dict[str, str]
) -> None:
    # GIVEN the model's function
    resource = source.resources[function_ids[model]]
    meta = resource["Metadata"]
    # THEN it is an Image built from the one functions/Dockerfile with context functions/ (SAM resolves
    # Dockerfile relative to DockerContext, and DockerContext relative to the template), told by its
    # build arguments which model it serves and which requirement set it installs
    assert resource["Properties"]["PackageType"] == "Image"
    assert (meta["DockerContext"], meta["Dockerfile"]) == ("./functions", "Dockerfile")
    assert meta["DockerTag"] == model
    requirements = "requirements-text.txt" if "text" in models[model] else "requirements.txt"
    assert meta["DockerBuildArgs"] == {"MODEL": model, "REQUIREMENTS": requirements}
    assert (REPO_ROOT / meta["DockerContext"] / meta["Dockerfile"]).is_file()
    assert (REPO_ROOT / meta["DockerContext"] / requirements).is_file()


def test_function_logs_to_its_own_group_with_retention(
    model: str, source: Any, function_ids: dict[str, str]
) -> None:
    # GIVEN the model's function
    props = source.resources[function_ids[model]]["Properties"]
    # WHEN following LoggingConfig to the log group
    group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    group = source.resources[group_id]
    # THEN it is an explicit log group with a retention period, used by no other function
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"]
    users = [
        r
        for r in source.active("AWS::Serverless::Function").values()
        if r["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group_id}
    ]
    assert len(users) == 1


def test_function_environment_uses_the_runtime_names(
    model: str, source: Any, function_ids: dict[str, str]
) -> None:
    # GIVEN the environment the function gets (Globals merged with its own)
    env = {
        **source.doc["Globals"]["Function"]["Environment"]["Variables"],
        **source.resources[function_ids[model]]["Properties"]["Environment"]["Variables"],
    }
    known = {value for name, value in vars(c).items() if name.endswith("_ENV")}
    # THEN every name is one the runtime reads, the model is named and powertools is configured
    assert set(env) <= known
    assert env[c.MODEL_NAME_ENV] == model
    assert env[c.LOAD_AT_INIT_ENV] in ("true", "false")
    assert {c.SERVICE_NAME_ENV, c.METRICS_NAMESPACE_ENV, c.LOG_LEVEL_ENV} <= set(env)


def test_function_configuration_does_not_come_from_parameters(source: Any, cfn: Any) -> None:
    # GIVEN the function properties (Globals included)
    nodes = [source.doc["Globals"]["Function"]] + [
        r["Properties"] for r in source.active("AWS::Serverless::Function").values()
    ]
    parameters = set(source.doc["Parameters"]) - {"StackPublishAlias", "DeploymentStrategy", "CodeDeployType"}
    # THEN none refers to a template parameter: SAM hashes unresolved references, so a parameter change
    # would update $LATEST without publishing a version that could ever reach `live`
    referenced = {n["Ref"] for node in nodes for n in cfn.walk(node) if isinstance(n, dict) and "Ref" in n}
    assert not referenced & parameters


def test_events_exist_for_every_model_and_type(model: str) -> None:
    # GIVEN the event types the kit ships per model
    # THEN each file exists
    missing = [t for t in EVENT_TYPES if not (REPO_ROOT / "events" / f"{model}-{t}.json").is_file()]
    assert not missing, f"events/{model}-<type>.json missing for {missing}"


def test_every_local_path_in_the_template_exists(source: Any, cfn: Any) -> None:
    # GIVEN every path-valued key of the template (build metadata, code and definition URIs)
    paths = []
    for logical_id, resource in source.resources.items():
        meta = resource.get("Metadata", {})
        if "DockerContext" in meta:
            paths.append((logical_id, Path(meta["DockerContext"]) / meta.get("Dockerfile", "Dockerfile")))
        for node in cfn.walk(resource.get("Properties", {})):
            if isinstance(node, dict):
                paths += [
                    (logical_id, Path(v)) for k, v in node.items() if k in PATH_KEYS and isinstance(v, str)
                ]
    # THEN each names something in the repository
    assert paths
    missing = [(logical_id, str(p)) for logical_id, p in paths if not (REPO_ROOT / p).exists()]
    assert not missing


def test_api_has_the_runtime_routes_for_every_model(source: Any, models: dict[str, Any]) -> None:
    # GIVEN the HTTP API's OpenAPI paths
    (api,) = source.active("AWS::Serverless::HttpApi").values()
    routes = {
        (method.upper(), path)
        for path, item in api["Properties"]["DefinitionBody"]["paths"].items()
        for method in item
    }
    # THEN they are the runtime's /<model>/predict (POST) and /<model>/health (GET), nothing else
    predict = next(p for p in c.PREDICT_PATHS if "<model>" in p)
    health = next(p for p in c.HEALTH_PATHS if "<model>" in p)
    wanted = {("POST", predict.replace("<model>", m)) for m in models} | {
        ("GET", health.replace("<model>", m)) for m in models
    }
    assert routes == wanted


def test_codedeploy_types_are_codedeploys_real_names(source: Any) -> None:
    from samtranslator.model.preferences.deployment_preference_collection import (
        CODEDEPLOY_PREDEFINED_CONFIGURATIONS_LIST,
    )

    # GIVEN the values CodeDeployType accepts (cfn-lint does not check DeploymentPreference.Type)
    allowed = source.doc["Parameters"]["CodeDeployType"]["AllowedValues"]
    # THEN each is a predefined CodeDeploy Lambda configuration and a made-up one is refused
    assert set(allowed) == set(CODEDEPLOY_PREDEFINED_CONFIGURATIONS_LIST)
    assert "Canary10Percent7Minutes" not in allowed
    assert source.values["CodeDeployType"] in allowed


def test_every_parameter_is_validated(source: Any) -> None:
    # GIVEN the template's parameters
    # THEN each is constrained by allowed values, a pattern or a numeric range
    loose = [
        name
        for name, p in source.doc["Parameters"].items()
        if not ({"AllowedValues", "AllowedPattern"} & set(p) or {"MinValue", "MaxValue"} <= set(p))
    ]
    assert not loose
    assert source.doc["Parameters"]["Auth"]["Default"] == "IAM"


@pytest.mark.parametrize(
    ("values", "broken"),
    [
        pytest.param({}, [], id="defaults"),
        pytest.param(
            {"Auth": "JWT"}, ["Auth=JWT needs JwtIssuer", "Auth=JWT needs JwtAudience"], id="jwt-unset"
        ),
        pytest.param({"Auth": "JWT", "JwtIssuer": "https://i", "JwtAudience": "a"}, [], id="jwt-set"),
        pytest.param(
            {"DeploymentStrategy": "fnkit", "StackPublishAlias": "live"}, ["fnkit"], id="fnkit-on-live"
        ),
        pytest.param({"DeploymentStrategy": "codedeploy"}, ["codedeploy"], id="codedeploy-on-candidate"),
        pytest.param({"DeploymentStrategy": "codedeploy", "StackPublishAlias": "live"}, [], id="codedeploy"),
    ],
)
def test_rules_refuse_inconsistent_parameters(source: Any, values: dict[str, str], broken: list[str]) -> None:
    # GIVEN parameter values
    # WHEN evaluating the template's Rules as CloudFormation does before any change
    failures = type(source)(source.doc, values).rule_failures()
    # THEN exactly the expected assertions fail
    assert len(failures) == len(broken)
    assert all(any(b in f for f in failures) for b in broken)


def _parameter_overrides(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(text))


def _accepts(parameter: dict[str, Any], value: str) -> bool:
    if "AllowedValues" in parameter and value not in [str(v) for v in parameter["AllowedValues"]]:
        return False
    if "AllowedPattern" in parameter and not re.fullmatch(parameter["AllowedPattern"], value):
        return False
    if parameter["Type"] == "Number":
        return (
            float(parameter.get("MinValue", "-inf"))
            <= float(value)
            <= float(parameter.get("MaxValue", "inf"))
        )
    return True


@pytest.mark.parametrize("env", ["default", "ci", "codedeploy"])
def test_samconfig_environment_deploys_valid_parameters(source: Any, env: str) -> None:
    # GIVEN one samconfig.toml environment
    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())[env]
    deploy = config["deploy"]["parameters"]
    overrides = _parameter_overrides(deploy["parameter_overrides"])
    # THEN its overrides are template parameters with acceptable values that pass the Rules
    assert set(overrides) <= set(source.doc["Parameters"])
    assert all(_accepts(source.doc["Parameters"][k], v) for k, v in overrides.items())
    assert type(source)(source.doc, overrides).rule_failures() == []
    # AND it deploys images to SAM-managed repositories with only the IAM capability it needs
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_image_repos"] is True
    assert config["global"]["parameters"]["stack_name"]
