"""`.github/workflows/deploy.yml`: test, build, deploy and promote on every push to main.

The workflow names no model: its first job asks `fnkit render --list --json` for the promotion
matrix, so a model added to the registry is deployed and promoted without editing CI.
"""

from __future__ import annotations

from typing import Any

from fnkit_ops.render import cfn
from fnkit_ops.render.files import header

WORKFLOW_FILE = ".github/workflows/deploy.yml"
SAM_CLI_VERSION = "1.170.0"
COMMENT = """\
#
# AWS access is OpenID Connect only: each AWS job exchanges GitHub's ID token for the role in the
# repository variable AWS_DEPLOY_ROLE_ARN (region in AWS_REGION). No access keys are stored anywhere.
# Traffic: DeploymentStrategy=fnkit (samconfig.toml [ci]): `sam deploy` publishes each changed
# function as a new version on `candidate` and never moves `live`; `fnkit promote` shifts `live` to
# it with a 10 % canary for 5 minutes behind the version's own alarms and metrics (Lambda Errors plus
# EMF ServerErrors), and rolls back on any failed gate (docs/promote.md).
"""

_SETUP_PYTHON = {
    "uses": "actions/setup-python@v5",
    "with": {
        "python-version": "${{ env.PYTHON_VERSION }}",
        "cache": "pip",
        "cache-dependency-path": "pyproject.toml",
    },
}
_CHECKOUT = {"uses": "actions/checkout@v4"}


def _aws(session: str) -> dict[str, Any]:
    return {
        "name": "Assume the deploy role (OIDC, no long-lived keys)",
        "uses": "aws-actions/configure-aws-credentials@v4",
        "with": {
            "role-to-assume": "${{ vars.AWS_DEPLOY_ROLE_ARN }}",
            "aws-region": "${{ vars.AWS_REGION }}",
            "role-session-name": session,
        },
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
            # torch==2.13.0 from the CPU wheel index: PyPI's Linux wheel pulls several GB of CUDA.
            "PIP_EXTRA_INDEX_URL": "https://download.pytorch.org/whl/cpu",
            "SAM_CLI_VERSION": SAM_CLI_VERSION,
            "STACK_NAME": "fnkit",
            "METRICS_NAMESPACE": namespace,
        },
        "jobs": {
            "test": {
                "runs-on": "ubuntu-latest",
                "timeout-minutes": 40,
                "steps": [_CHECKOUT, _SETUP_PYTHON, {"name": "Lint and test", "run": "make test"}],
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
                "timeout-minutes": 60,
                "permissions": {"id-token": "write", "contents": "read"},
                "outputs": {"stack": "${{ steps.outputs.outputs.stack }}"},
                "steps": [
                    _CHECKOUT,
                    _SETUP_PYTHON,
                    _aws("fnkit-deploy-${{ github.run_id }}"),
                    {"name": "Build the models", "run": "make venv\n.venv/bin/fnkit build\n"},
                    {
                        "name": "Install the SAM CLI in its own venv (it pins click)",
                        "run": "python -m venv .sam-venv\n"
                        '.sam-venv/bin/pip install --quiet "aws-sam-cli==${SAM_CLI_VERSION}"\n',
                    },
                    {"name": "sam build", "run": ".sam-venv/bin/sam build --config-env ci"},
                    {
                        "name": "sam deploy (publishes versions to `candidate`; `live` is not touched)",
                        "run": '.sam-venv/bin/sam deploy --config-env ci --stack-name "$STACK_NAME" '
                        "--no-confirm-changeset --no-fail-on-empty-changeset",
                    },
                    {
                        "id": "outputs",
                        "name": "Record the stack name for the promotion jobs",
                        "run": 'echo "stack=$STACK_NAME" >> "$GITHUB_OUTPUT"',
                    },
                    {
                        "name": "Keep the manifests for the smoke tests",
                        "uses": "actions/upload-artifact@v4",
                        "with": {
                            "name": "manifests",
                            "path": "functions/*/model/manifest.json",
                            "if-no-files-found": "error",
                        },
                    },
                ],
            },
            "promote": {
                "needs": ["deploy", "models"],
                "runs-on": "ubuntu-latest",
                "timeout-minutes": 45,
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
                        "uses": "actions/download-artifact@v4",
                        "with": {"name": "manifests", "path": "functions"},
                    },
                    _aws("fnkit-promote-${{ matrix.model }}-${{ github.run_id }}"),
                    {
                        "name": "Read the function, the version just published and its alarms",
                        "id": "stack",
                        "env": {
                            "STACK": "${{ needs.deploy.outputs.stack }}",
                            "PREFIX": "${{ matrix.output }}",
                        },
                        "run": _OUTPUTS_SCRIPT,
                    },
                    {
                        "name": "Promote with a canary (10 % for 5 minutes, gates, automatic rollback)",
                        "if": "steps.stack.outputs.version != steps.stack.outputs.live",
                        "env": {
                            "FUNCTION": "${{ steps.stack.outputs.function }}",
                            "VERSION": "${{ steps.stack.outputs.version }}",
                            "ALARMS": "${{ steps.stack.outputs.alarms }}",
                            "MODEL": "${{ matrix.model }}",
                            "STACK": "${{ needs.deploy.outputs.stack }}",
                        },
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
                        "uses": "actions/upload-artifact@v4",
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


def render_workflow(namespace: str) -> str:
    return header() + COMMENT + cfn.dump(workflow(namespace))
