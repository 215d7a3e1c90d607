"""`samconfig.toml`: SAM CLI defaults for the rendered stack, written only when the project has none."""

from __future__ import annotations

from fnkit_ops.render.files import header

SAMCONFIG_FILE = "samconfig.toml"
_FNKIT = "Auth=IAM DeploymentStrategy=fnkit StackPublishAlias=candidate LogRetentionInDays=30"
_CODEDEPLOY = (
    "Auth=IAM DeploymentStrategy=codedeploy StackPublishAlias=live "
    "CodeDeployType=Canary10Percent5Minutes LogRetentionInDays=30"
)


def _environment(name: str, stack: str, confirm: bool, overrides: str, *, ci: bool = False) -> str:
    lines = [
        f"[{name}.global.parameters]",
        f'stack_name = "{stack}"',
        "",
        f"[{name}.build.parameters]",
        "# Image functions: sam build runs `docker build` with each function's Metadata (functions/).",
        "cached = true",
        "parallel = true",
        "",
    ]
    if name == "default":
        lines += ["[default.validate.parameters]", "lint = true", ""]
    lines += [
        f"[{name}.deploy.parameters]",
        'capabilities = "CAPABILITY_IAM"',
        f"confirm_changeset = {str(confirm).lower()}",
        "fail_on_empty_changeset = false",
    ]
    if ci:
        lines.append("no_progressbar = true")
    lines += ["resolve_image_repos = true", f'parameter_overrides = "{overrides}"', ""]
    return "\n".join(lines)


def samconfig() -> str:
    intro = (
        "# SAM CLI defaults for template.yaml (docs/deploy.md). `sam build && sam deploy` uses [default];\n"
        "# CI uses `--config-env ci`; a stack shifted by CodeDeploy uses `--config-env codedeploy`. SAM\n"
        "# config environments do not inherit from [default], so each is complete. The region is not\n"
        "# pinned: it comes from --region, AWS_REGION or the AWS profile.\n"
        "version = 0.1\n\n"
    )
    return (
        header()
        + intro
        + _environment("default", "fnkit", True, _FNKIT)
        + "\n"
        + _environment("ci", "fnkit", False, _FNKIT, ci=True)
        + "\n"
        + _environment("codedeploy", "fnkit-codedeploy", True, _CODEDEPLOY)
    )
