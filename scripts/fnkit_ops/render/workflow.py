"""`.github/workflows/deploy.yml`: test, build, deploy and promote on every push to main.

The workflow names no model: its first job asks `fnkit render --list --json` for the promotion
matrix, so a model added to the registry is deployed and promoted without editing CI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from fnkit_ops.render import cfn
from fnkit_ops.render.files import header

WORKFLOW_FILE = ".github/workflows/deploy.yml"
SAM_CLI_VERSION = "1.170.0"
TORCH_INDEX_URL = "https://download.pytorch.org/whl/cpu"
"""The CPU wheel index: PyPI's Linux torch wheel pulls several GB of CUDA. Given to the one install
that needs torch, never to the others (a second index on every install invites dependency confusion)."""
PROMOTE_ENVIRONMENT = "production"
"""The GitHub environment the promote job runs in (its protection rules may require an approval)."""
DEPLOY_TIMEOUT_MIN = 60
PROMOTE_TIMEOUT_MIN = 45
COMMENT = """\
#
# Least privilege (docs/deploy.md): build and tests run without AWS credentials. The deploy job assumes
# the role in the repository variable AWS_DEPLOY_ROLE_ARN, the promote job (in the `production`
# environment) the narrower AWS_PROMOTE_ROLE_ARN, both through OpenID Connect (no stored keys), after
# every build step; the short-lived credentials are step outputs passed only to the steps that call
# AWS. Every action is pinned by commit SHA (its release in the comment).
# Traffic: DeploymentStrategy=fnkit (samconfig.toml [ci]): `sam deploy` publishes each changed
# function as a new version on `candidate` and never moves `live`; `fnkit promote` shifts `live` to
# it with a 10 % canary for 5 minutes behind the version's own alarms and metrics (Lambda Errors plus
# EMF ServerErrors), and rolls back on any failed gate (docs/promote.md).
"""


@dataclass(frozen=True)
class Action:
    """A third-party action pinned by full commit SHA; `version` is the release that commit is."""

    repo: str
    sha: str
    version: str

    @property
    def uses(self) -> str:
        return f"{self.repo}@{self.sha}"


CHECKOUT = Action("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1")
SETUP_PYTHON = Action("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0")
UPLOAD_ARTIFACT = Action("actions/upload-artifact", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0")
DOWNLOAD_ARTIFACT = Action("actions/download-artifact", "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1")
AWS_CREDENTIALS = Action(
    "aws-actions/configure-aws-credentials", "e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"
)
ACTIONS = (CHECKOUT, SETUP_PYTHON, UPLOAD_ARTIFACT, DOWNLOAD_ARTIFACT, AWS_CREDENTIALS)
"""To update one: read the release tag's commit (`git ls-remote https://github.com/OWNER/REPO
refs/tags/vX.Y.Z^{}`, the peeled commit of an annotated tag) and change the SHA and version here."""

_SETUP_PYTHON = {
    "uses": SETUP_PYTHON.uses,
    "with": {
        "python-version": "${{ env.PYTHON_VERSION }}",
        "cache": "pip",
        "cache-dependency-path": "pyproject.toml",
    },
}
_CHECKOUT = {"uses": CHECKOUT.uses, "with": {"persist-credentials": False}}
AWS_STEP_ID = "aws"


def torch_requirement() -> str:
    """The kit's own torch pin (pyproject's build extra), e.g. torch==2.13.0."""
    for text in metadata.requires("fnkit") or []:
        name, _, rest = text.partition("==")
        if name.strip() == "torch":
            return f"torch=={rest.split(';', 1)[0].strip()}"
    raise LookupError("fnkit's metadata pins no torch (pyproject.toml's build extra)")


def _install_torch() -> dict[str, Any]:
    return {
        "name": "Install torch alone from the PyTorch CPU index (no other install sees that index)",
        "env": {"TORCH_INDEX_URL": TORCH_INDEX_URL},
        "run": "python -m venv .venv\n"
        f'.venv/bin/pip install --quiet --index-url "$TORCH_INDEX_URL" "{torch_requirement()}"\n',
    }


def _aws(role_variable: str, session: str, timeout_min: int) -> dict[str, Any]:
    """Assume a role by OIDC; the credentials are step outputs only (`aws_env` hands them on)."""
    return {
        "id": AWS_STEP_ID,
        "name": f"Assume {role_variable} (OIDC, short-lived, not exported to the job)",
        "uses": AWS_CREDENTIALS.uses,
        "with": {
            "role-to-assume": f"${{{{ vars.{role_variable} }}}}",
            "aws-region": "${{ vars.AWS_REGION }}",
            "role-session-name": session,
            "role-duration-seconds": timeout_min * 60,
            "output-credentials": True,
            "output-env-credentials": False,
        },
    }


def aws_env(**extra: str) -> dict[str, str]:
    """The assumed role's credentials, for one step that calls AWS."""
    outputs = f"steps.{AWS_STEP_ID}.outputs"
    return {
        "AWS_ACCESS_KEY_ID": f"${{{{ {outputs}.aws-access-key-id }}}}",
        "AWS_SECRET_ACCESS_KEY": f"${{{{ {outputs}.aws-secret-access-key }}}}",
        "AWS_SESSION_TOKEN": f"${{{{ {outputs}.aws-session-token }}}}",
        "AWS_REGION": "${{ vars.AWS_REGION }}",
        **extra,
    }


_OUTPUTS_SCRIPT = """\
output() {
  aws cloudformation describe-stacks --stack-name "$STACK" \\
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
function_name="$(output "${PREFIX}FunctionName")"
version="$(output "${PREFIX}PublishedVersion")"
live="$(aws lambda get-alias --function-name "$function_name" --name live \\
  --query FunctionVersion --output text)"
{
  echo "function=$function_name"
  echo "version=$version"
  echo "alarms=$(output "${PREFIX}AlarmNames")"
  echo "live=$live"
} >> "$GITHUB_OUTPUT"
"""

_PROMOTE_SCRIPT = """\
alarm_args=()
IFS=',' read -ra names <<< "$ALARMS"
for name in "${names[@]}"; do alarm_args+=(--alarm "$name"); done
# --on-resume resume: a run cancelled midway left `live` routing to this version; re-bake from that
# weight with the same gates. --emf-*: count the version's 5xx answers (EMF ServerErrors) as errors.
.venv/bin/fnkit promote \\
  --function "$FUNCTION" --version "$VERSION" --alias live \\
  --strategy canary:10:5 "${alarm_args[@]}" \\
  --emf-namespace "$METRICS_NAMESPACE" --emf-service "$STACK" --emf-model "$MODEL" \\
  --smoke-manifest "functions/$MODEL/model" \\
  --on-resume resume \\
  --report "promote-reports/$MODEL.json"
"""


def workflow(namespace: str) -> dict[str, Any]:
    install_ops = {
        "name": "Install fnkit (runtime and deploy extras only; no torch)",
        "run": "python -m venv .venv\n.venv/bin/pip install --quiet -e '.[deploy]'\n",
    }
    return {
        "name": "deploy",
        "on": {"push": {"branches": ["main"]}, "workflow_dispatch": None},
        # One deployment at a time; a newer push waits instead of cancelling a promotion midway.
        "concurrency": {"group": "deploy-${{ github.ref }}", "cancel-in-progress": False},
        "permissions": {"contents": "read"},
        "env": {
            "PYTHON_VERSION": "3.11",
            "SAM_CLI_VERSION": SAM_CLI_VERSION,
            "STACK_NAME": "fnkit",
            "METRICS_NAMESPACE": namespace,
        },
        "jobs": {
            "test": {
                "runs-on": "ubuntu-latest",
                "timeout-minutes": 40,
                "steps": [
                    _CHECKOUT,
                    _SETUP_PYTHON,
                    _install_torch(),
                    {"name": "Lint and test", "run": "make test"},
                ],
            },
            "models": {
                "runs-on": "ubuntu-latest",
                "timeout-minutes": 10,
                "outputs": {"matrix": "${{ steps.list.outputs.matrix }}"},
                "steps": [
                    _CHECKOUT,
                    _SETUP_PYTHON,
                    install_ops,
                    {
                        "id": "list",
                        "name": "The registry's models (the promotion matrix)",
                        "run": 'echo "matrix=$(.venv/bin/fnkit render --list --json)" >> "$GITHUB_OUTPUT"\n',
                    },
                ],
            },
            "deploy": {
                "needs": ["test", "models"],
                "runs-on": "ubuntu-latest",
                "timeout-minutes": DEPLOY_TIMEOUT_MIN,
                "permissions": {"id-token": "write", "contents": "read"},
                "outputs": {"stack": "${{ steps.outputs.outputs.stack }}"},
                "steps": [
                    _CHECKOUT,
                    _SETUP_PYTHON,
                    _install_torch(),
                    {"name": "Build the models", "run": "make venv\n.venv/bin/fnkit build\n"},
                    {
                        "name": "Install the SAM CLI in its own venv (it pins click)",
                        "run": "python -m venv .sam-venv\n"
                        '.sam-venv/bin/pip install --quiet "aws-sam-cli==${SAM_CLI_VERSION}"\n',
                    },
                    {"name": "sam build", "run": ".sam-venv/bin/sam build --config-env ci"},
                    {
                        "name": "Keep the manifests for the smoke tests",
                        "uses": UPLOAD_ARTIFACT.uses,
                        "with": {
                            "name": "manifests",
                            "path": "functions/*/model/manifest.json",
                            "if-no-files-found": "error",
                        },
                    },
                    {
                        "id": "outputs",
                        "name": "Record the stack name for the promotion jobs",
                        "run": 'echo "stack=$STACK_NAME" >> "$GITHUB_OUTPUT"',
                    },
                    _aws("AWS_DEPLOY_ROLE_ARN", "fnkit-deploy-${{ github.run_id }}", DEPLOY_TIMEOUT_MIN),
                    {
                        "name": "sam deploy (publishes versions to `candidate`; `live` is not touched)",
                        "env": aws_env(),
                        "run": '.sam-venv/bin/sam deploy --config-env ci --stack-name "$STACK_NAME" '
                        "--no-confirm-changeset --no-fail-on-empty-changeset",
                    },
                ],
            },
            "promote": {
                "needs": ["deploy", "models"],
                "runs-on": "ubuntu-latest",
                "timeout-minutes": PROMOTE_TIMEOUT_MIN,
                "environment": PROMOTE_ENVIRONMENT,
                "permissions": {"id-token": "write", "contents": "read"},
                "strategy": {
                    "fail-fast": False,
                    "matrix": {"include": "${{ fromJSON(needs.models.outputs.matrix) }}"},
                },
                "steps": [
                    _CHECKOUT,
                    _SETUP_PYTHON,
                    install_ops,
                    {
                        "uses": DOWNLOAD_ARTIFACT.uses,
                        "with": {"name": "manifests", "path": "functions"},
                    },
                    _aws(
                        "AWS_PROMOTE_ROLE_ARN",
                        "fnkit-promote-${{ matrix.model }}-${{ github.run_id }}",
                        PROMOTE_TIMEOUT_MIN,
                    ),
                    {
                        "name": "Read the function, the version just published and its alarms",
                        "id": "stack",
                        "env": aws_env(
                            STACK="${{ needs.deploy.outputs.stack }}",
                            PREFIX="${{ matrix.output }}",
                        ),
                        "run": _OUTPUTS_SCRIPT,
                    },
                    {
                        "name": "Promote with a canary (10 % for 5 minutes, gates, automatic rollback)",
                        "if": "steps.stack.outputs.version != steps.stack.outputs.live",
                        "env": aws_env(
                            FUNCTION="${{ steps.stack.outputs.function }}",
                            VERSION="${{ steps.stack.outputs.version }}",
                            ALARMS="${{ steps.stack.outputs.alarms }}",
                            MODEL="${{ matrix.model }}",
                            STACK="${{ needs.deploy.outputs.stack }}",
                        ),
                        "run": _PROMOTE_SCRIPT,
                    },
                    {
                        "name": "Already live",
                        "if": "steps.stack.outputs.version == steps.stack.outputs.live",
                        "run": 'echo "live already serves version ${{ steps.stack.outputs.version }}"',
                    },
                    {
                        "name": "Upload the promotion report",
                        "if": "always()",
                        "uses": UPLOAD_ARTIFACT.uses,
                        "with": {
                            "name": "promote-report-${{ matrix.model }}",
                            "path": "promote-reports/",
                            "if-no-files-found": "ignore",
                        },
                    },
                ],
            },
        },
    }


def _version_comments(text: str) -> str:
    """`uses: OWNER/REPO@SHA # vX.Y.Z`: the release each pin is, for readers and update tools."""
    for action in ACTIONS:
        text = re.sub(rf"(uses: {re.escape(action.uses)})$", rf"\1 # {action.version}", text, flags=re.M)
    return text


def render_workflow(namespace: str) -> str:
    return header() + COMMENT + _version_comments(cfn.dump(workflow(namespace)))
