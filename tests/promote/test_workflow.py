"""The CI workflow's load-bearing properties, read from .github/workflows/deploy.yml."""

from __future__ import annotations

import argparse
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from fnkit_ops.promote import cli

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "deploy.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 (PyYAML) reads the bare key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def _steps(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = workflow["jobs"][job]["steps"]
    return steps


def _runs(workflow: dict[str, Any], job: str) -> str:
    return "\n".join(step.get("run", "") for step in _steps(workflow, job))


def _uses(workflow: dict[str, Any], job: str, action: str) -> list[dict[str, Any]]:
    return [s for s in _steps(workflow, job) if str(s.get("uses", "")).startswith(action)]


def test_runs_on_push_to_main(workflow: dict[str, Any]):
    assert workflow["on"]["push"]["branches"] == ["main"]


def test_test_job_runs_make_test(workflow: dict[str, Any]):
    assert re.search(r"^make test$", _runs(workflow, "test"), re.MULTILINE)
    assert _uses(workflow, "test", "actions/setup-python")[0]["with"]["python-version"] in (
        "3.11",
        "${{ env.PYTHON_VERSION }}",
    )
    assert workflow["env"]["PYTHON_VERSION"] == "3.11"


def test_deploy_needs_test_and_promote_needs_deploy(workflow: dict[str, Any]):
    assert "test" in workflow["jobs"]["deploy"]["needs"]
    assert "deploy" in workflow["jobs"]["promote"]["needs"]


AWS_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
AWS_CALLS = (".sam-venv/bin/sam deploy", "aws cloudformation", "aws lambda", "fnkit promote")
"""What a step that is handed credentials must run: a call to AWS, nothing else."""
BUILD_WORK = ("pip install", "make ", "fnkit build", "sam build")


@pytest.mark.parametrize(
    ("job", "role"), [("deploy", "AWS_DEPLOY_ROLE_ARN"), ("promote", "AWS_PROMOTE_ROLE_ARN")]
)
def test_aws_jobs_assume_their_own_role_by_oidc(workflow: dict[str, Any], job: str, role: str):
    # THEN the job may mint an ID token, and credentials come from assuming its role with it
    spec = workflow["jobs"][job]
    assert spec["permissions"] == {"id-token": "write", "contents": "read"}
    [creds] = _uses(workflow, job, "aws-actions/configure-aws-credentials")
    assert creds["with"]["role-to-assume"] == f"${{{{ vars.{role} }}}}"
    # AND the session lasts as long as the job may run
    assert creds["with"]["role-duration-seconds"] == spec["timeout-minutes"] * 60
    # AND the credentials are step outputs, never exported to the job's environment
    assert creds["with"]["output-env-credentials"] is False and creds["with"]["output-credentials"] is True


def test_the_promote_job_runs_in_a_protected_environment(workflow: dict[str, Any]):
    assert workflow["jobs"]["promote"]["environment"] == "production"
    assert "environment" not in workflow["jobs"]["deploy"]


@pytest.mark.parametrize("job", ["test", "models", "deploy", "promote"])
def test_credentials_reach_only_the_steps_that_call_aws_after_every_build_step(
    workflow: dict[str, Any], job: str
):
    steps = _steps(workflow, job)
    assumed = [i for i, s in enumerate(steps) if "configure-aws-credentials" in str(s.get("uses", ""))]
    for index, step in enumerate(steps):
        env = step.get("env", {})
        handed = sorted(set(env) & set(AWS_CREDENTIAL_VARIABLES))
        run = step.get("run", "")
        if handed:
            # THEN a step given credentials comes after the role is assumed, takes them from that step,
            # and calls AWS
            assert assumed and index > assumed[0], step
            assert all(env[name].startswith("${{ steps.aws.outputs.") for name in handed), step
            assert any(call in run for call in AWS_CALLS), step
        if assumed and index > assumed[0]:
            # AND after the role is assumed, nothing builds or installs: credentials never meet build code
            assert not any(work in run for work in BUILD_WORK), step
            assert "uses" not in step or "upload-artifact" in step["uses"], step
    # AND no job or workflow environment holds credentials
    for scope in (workflow.get("env", {}), workflow["jobs"][job].get("env", {})):
        assert not set(scope) & set(AWS_CREDENTIAL_VARIABLES)


def test_no_long_lived_keys_anywhere():
    # THEN no stored key is referenced: the only credentials are the OIDC step's outputs
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "secrets." not in text
    for line in text.splitlines():
        if any(f"{name}:" in line for name in AWS_CREDENTIAL_VARIABLES):
            assert "${{ steps.aws.outputs.aws-" in line, line
    assert "aws-access-key-id:" not in text and "aws-secret-access-key:" not in text  # no action inputs


def test_every_action_is_pinned_by_commit_sha_with_its_release(workflow: dict[str, Any]):
    # GIVEN every `uses:` line of the workflow
    lines = [line.strip() for line in WORKFLOW.read_text().splitlines() if "uses:" in line]
    assert lines
    for line in lines:
        # THEN it names a full 40-hex commit and says which release that is
        assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), line
    from fnkit_ops.render.workflow import ACTIONS

    assert {a.repo for a in ACTIONS} == {
        s["uses"].split("@")[0] for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s
    }


def test_the_pytorch_index_is_given_to_the_torch_install_only(workflow: dict[str, Any]):
    # GIVEN every step of every job
    text = WORKFLOW.read_text()
    assert "PIP_EXTRA_INDEX_URL" not in text and "extra-index-url" not in text
    assert "PIP_INDEX_URL" not in text
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    with_index = [s for s in steps if "download.pytorch.org" in json.dumps(s)]
    assert with_index  # the test and deploy jobs need torch
    for step in with_index:
        # THEN the index is that one step's own variable, and that step installs torch alone
        assert step["env"] == {"TORCH_INDEX_URL": "https://download.pytorch.org/whl/cpu"}
        [install] = [line for line in step["run"].splitlines() if "pip install" in line]
        assert re.fullmatch(
            r'\.venv/bin/pip install --quiet --index-url "\$TORCH_INDEX_URL" "torch==[\d.]+"', install
        )
    # AND every job that builds (make venv / make test) installed torch first, from that index
    for name, job in workflow["jobs"].items():
        runs = [s.get("run", "") for s in job["steps"]]
        builds = [i for i, r in enumerate(runs) if "make " in r]
        if builds:
            torch = [i for i, r in enumerate(runs) if "TORCH_INDEX_URL" in r]
            assert torch and torch[0] < builds[0], name


def test_default_token_is_read_only(workflow: dict[str, Any]):
    assert workflow["permissions"] == {"contents": "read"}
    assert "permissions" not in workflow["jobs"]["test"]


def test_sam_cli_lives_in_its_own_venv(workflow: dict[str, Any]):
    runs = _runs(workflow, "deploy")
    assert ".sam-venv/bin/pip install" in runs and "aws-sam-cli==" in runs
    assert ".venv/bin/pip install aws-sam-cli" not in runs
    assert ".sam-venv/bin/sam build" in runs
    assert "--no-confirm-changeset" in runs and "--no-fail-on-empty-changeset" in runs
    assert runs.index(".venv/bin/fnkit build") < runs.index("sam build")


def test_deploy_does_not_move_live_itself(workflow: dict[str, Any]):
    # GIVEN samconfig's ci environment, which the deploy uses
    samconfig = (WORKFLOW.parents[2] / "samconfig.toml").read_text(encoding="utf-8")
    ci_deploy = samconfig.split("[ci.deploy.parameters]", 1)[1].split("\n[", 1)[0]

    # THEN SAM publishes to `candidate` and fnkit moves `live`
    assert "--config-env ci" in _runs(workflow, "deploy")
    assert "DeploymentStrategy=fnkit" in ci_deploy and "StackPublishAlias=candidate" in ci_deploy


def test_promote_uses_a_gated_canary_and_keeps_the_report(workflow: dict[str, Any]):
    runs = _runs(workflow, "promote")
    assert "fnkit promote" in runs
    strategy = re.search(r"--strategy\s+(\S+)", runs)
    assert strategy is not None and strategy.group(1).startswith("canary:")
    assert "--alarm" in runs and "--report" in runs and "--smoke-manifest" in runs
    [upload] = [s for s in _uses(workflow, "promote", "actions/upload-artifact")]
    assert upload["if"] == "always()"
    assert workflow["jobs"]["promote"]["strategy"]["fail-fast"] is False


def test_the_matrix_comes_from_the_registry_and_the_workflow_names_no_model(
    workflow: dict[str, Any], capsys: pytest.CaptureFixture[str]
):
    from fnkit_ops.cli import main

    # GIVEN the promotion matrix: the models job's output, which asks `fnkit render --list --json`
    matrix = workflow["jobs"]["promote"]["strategy"]["matrix"]["include"]
    assert matrix == "${{ fromJSON(needs.models.outputs.matrix) }}"
    assert "models" in workflow["jobs"]["promote"]["needs"]
    [step] = [s for s in _steps(workflow, "models") if s.get("id") == "list"]
    assert "fnkit render --list --json" in step["run"]
    # WHEN running that command on the repository's registry
    registry = WORKFLOW.parents[2] / "models.toml"
    assert main(["render", "--list", "--json", "--registry", str(registry)]) == 0
    listed = json.loads(capsys.readouterr().out)
    # THEN it lists every model with the prefix of its stack outputs, and the workflow names none
    models = tomllib.loads(registry.read_text(encoding="utf-8"))["models"]
    assert [entry["model"] for entry in listed] == list(models)
    text = WORKFLOW.read_text(encoding="utf-8")
    assert not any(re.search(rf"\b{re.escape(name)}\b", text) for name in models)


def _promote_step(workflow: dict[str, Any]) -> dict[str, Any]:
    [step] = [s for s in _steps(workflow, "promote") if "fnkit promote" in s.get("run", "")]
    return step


def _resolve(workflow: dict[str, Any], step: dict[str, Any], variable: str) -> str:
    """A `$NAME` in the step's script → its value from the step's env, else the workflow's."""
    value = step.get("env", {}).get(variable, workflow["env"].get(variable))
    assert value is not None, f"${variable} is set neither in the step nor in the workflow"
    return str(value)


def test_promote_counts_the_functions_5xx_answers_from_emf(workflow: dict[str, Any]):
    # GIVEN the promote command and the template the stack is deployed from
    step = _promote_step(workflow)
    template = (WORKFLOW.parents[2] / "template.yaml").read_text(encoding="utf-8")
    flags = dict(re.findall(r'--emf-(namespace|service|model)\s+"\$(\w+)"', step["run"]))

    # THEN all three --emf-* flags are passed
    assert sorted(flags) == ["model", "namespace", "service"]
    # AND the namespace is the functions' POWERTOOLS_METRICS_NAMESPACE
    namespace = re.search(r"^\s+POWERTOOLS_METRICS_NAMESPACE:\s*(\S+)", template, re.MULTILINE)
    assert namespace is not None
    assert _resolve(workflow, step, flags["namespace"]) == namespace.group(1)
    # AND the service is the stack name the deploy job deployed (POWERTOOLS_SERVICE_NAME is the stack name)
    assert re.search(r"^\s+POWERTOOLS_SERVICE_NAME:\s*!Ref AWS::StackName\b", template, re.MULTILINE)
    assert _resolve(workflow, step, flags["service"]) == "${{ needs.deploy.outputs.stack }}"
    deploy = _runs(workflow, "deploy")
    assert '--stack-name "$STACK_NAME"' in deploy and 'echo "stack=$STACK_NAME"' in deploy
    # AND the model is the matrix's model
    assert _resolve(workflow, step, flags["model"]) == "${{ matrix.model }}"


def test_promote_command_uses_only_options_fnkit_promote_accepts(workflow: dict[str, Any]):
    # GIVEN the options `fnkit promote` defines
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    known = set(parser._option_string_actions)

    # WHEN reading the options the workflow passes
    command = _promote_step(workflow)["run"].split("fnkit promote", 1)[1]
    used = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", command))

    # THEN each one exists (a renamed flag would otherwise fail only in CI)
    assert used and used <= known, used - known
    assert {"--emf-namespace", "--emf-service", "--emf-model"} <= used
