"""Fixtures of the deploy tests: template.yaml decoded, evaluated and translated offline.

`CfnTemplate` wraps a (SAM or translated) template with the parameter values of one deployment, and
evaluates the little of CloudFormation the tests need: parameter Refs, Conditions, Fn::If and Rules.
The SAM → CloudFormation translation is the real one (samtranslator's Translator), given a region, an
empty managed-policy map (no network) and a placeholder ImageUri, which `sam build` fills in for real.
"""

from __future__ import annotations

import copy
import json
import sys
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
REGISTRY_PATH = REPO_ROOT / "models.toml"
SAMCONFIG_PATH = REPO_ROOT / "samconfig.toml"
REGION = "us-east-1"
PLACEHOLDER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fnkit:placeholder"

NO_VALUE = object()
"""What `{"Ref": "AWS::NoValue"}` evaluates to."""

JWT = {"Auth": "JWT", "JwtIssuer": "https://issuer.example.com", "JwtAudience": "fnkit-client"}
FNKIT = {"DeploymentStrategy": "fnkit", "StackPublishAlias": "candidate"}
CODEDEPLOY = {"DeploymentStrategy": "codedeploy", "StackPublishAlias": "live"}
COMBINATIONS = {
    f"{strategy_name}-{auth_name}": {**strategy, **auth}
    for strategy_name, strategy in (("fnkit", FNKIT), ("codedeploy", CODEDEPLOY))
    for auth_name, auth in (("none", {"Auth": "NONE"}), ("iam", {"Auth": "IAM"}), ("jwt", JWT))
}
"""Every parameter combination that changes the translated stack: traffic shifting x auth."""


def registry() -> dict[str, Any]:
    models: dict[str, Any] = tomllib.loads(REGISTRY_PATH.read_text())["models"]
    return models


def decode_template(text: str) -> dict[str, Any]:
    """YAML with CloudFormation short tags (!Ref, !Sub, !GetAtt...) -> plain dicts, via cfn-lint."""
    from cfnlint.decode import decode_str

    doc, errors = decode_str(text)
    assert not errors, [str(e) for e in errors]
    plain: dict[str, Any] = json.loads(json.dumps(doc))
    return plain


class CfnTemplate:
    """A template plus the parameter values of one deployment (defaults filled in)."""

    def __init__(self, doc: dict[str, Any], values: Mapping[str, str] | None = None) -> None:
        self.doc = doc
        defaults = {k: str(p["Default"]) for k, p in doc.get("Parameters", {}).items() if "Default" in p}
        self.values = {**defaults, **(values or {}), "AWS::StackName": "fnkit-test", "AWS::Region": REGION}

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.doc["Resources"]
        return resources

    def condition(self, name: str) -> bool:
        return bool(self.evaluate(self.doc["Conditions"][name]))

    def active(self, type_: str | None = None) -> dict[str, dict[str, Any]]:
        """Resources CloudFormation creates with these values (their Condition holds), of one type."""
        return {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if (type_ is None or resource["Type"] == type_)
            and ("Condition" not in resource or self.condition(resource["Condition"]))
        }

    def evaluate(self, node: Any) -> Any:
        """Parameter Refs, conditions, Fn::If, Fn::Equals/Not/And/Or; anything else is returned as is."""
        if not isinstance(node, dict) or len(node) != 1:
            return node
        ((key, arg),) = node.items()
        if key == "Ref" and arg == "AWS::NoValue":
            return NO_VALUE
        if key == "Ref" and arg in self.values:
            return self.values[arg]
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.evaluate(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (str(self.evaluate(a)) for a in arg)
            return left == right
        if key == "Fn::Not":
            return not self.evaluate(arg[0])
        if key == "Fn::And":
            return all(self.evaluate(a) for a in arg)
        if key == "Fn::Or":
            return any(self.evaluate(a) for a in arg)
        return node

    def rule_failures(self) -> list[str]:
        """AssertDescriptions of the Rules these parameter values break (what CloudFormation rejects)."""
        failures = []
        for rule in self.doc.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.evaluate(rule["RuleCondition"]):
                continue
            failures += [a["AssertDescription"] for a in rule["Assertions"] if not self.evaluate(a["Assert"])]
        return failures


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def walk(node: Any) -> Iterator[Any]:
    """Every node of a JSON-like tree, depth first."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from walk(child)


def with_placeholder_images(doc: dict[str, Any], image: str = PLACEHOLDER_IMAGE) -> dict[str, Any]:
    """A copy with the ImageUri `sam build` would write into each Image function."""
    doc = copy.deepcopy(doc)
    for resource in doc["Resources"].values():
        if (
            resource["Type"] == "AWS::Serverless::Function"
            and resource["Properties"]["PackageType"] == "Image"
        ):
            resource["Properties"]["ImageUri"] = image
    return doc


def translate(doc: dict[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """samtranslator's SAM -> CloudFormation transform, offline."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    translated: dict[str, Any] = translator.translate(
        copy.deepcopy(doc), parameter_values=dict(values), get_managed_policy_map=lambda: {}
    )
    return translated


@cache
def _source_text() -> str:
    return TEMPLATE_PATH.read_text()


@cache
def _translated(combination: str) -> dict[str, Any]:
    doc = with_placeholder_images(decode_template(_source_text()))
    return translate(doc, COMBINATIONS[combination])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `model` runs once per model of models.toml."""
    if "model" in metafunc.fixturenames:
        metafunc.parametrize("model", sorted(registry()))


@pytest.fixture(scope="session")
def models() -> dict[str, Any]:
    return registry()


@pytest.fixture(scope="session")
def source() -> CfnTemplate:
    """template.yaml as written (SAM), with its default parameter values."""
    return CfnTemplate(decode_template(_source_text()))


@pytest.fixture(scope="session", params=sorted(COMBINATIONS))
def translated(request: pytest.FixtureRequest) -> CfnTemplate:
    """template.yaml translated to CloudFormation, once per parameter combination."""
    return CfnTemplate(_translated(request.param), COMBINATIONS[request.param])


@pytest.fixture(scope="session")
def function_ids(source: CfnTemplate) -> dict[str, str]:
    """model name -> logical id of the AWS::Serverless::Function serving it (by FNKIT_MODEL_NAME)."""
    found: dict[str, str] = {}
    for logical_id, resource in source.active("AWS::Serverless::Function").items():
        model = resource["Properties"]["Environment"]["Variables"]["FNKIT_MODEL_NAME"]
        assert model not in found, f"two functions serve {model}: {found[model]} and {logical_id}"
        found[model] = logical_id
    return found


@pytest.fixture(scope="session")
def cfn() -> ModuleType:
    """This module's helpers (ref, walk, translate, NO_VALUE...): test modules cannot import a conftest."""
    return sys.modules[__name__]


def translated_stack(combination: str) -> CfnTemplate:
    """One named combination of COMBINATIONS, translated (cached)."""
    return CfnTemplate(_translated(combination), COMBINATIONS[combination])
