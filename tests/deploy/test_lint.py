"""The stack's linters as tests: no finding at all, and every skip recorded with its reason.

cfn-lint (all rules, informational included, and the serverless rules of cfn-lint-serverless) and
checkov (offline, `--skip-download`) on template.yaml, hadolint on the Dockerfile, actionlint (with
shellcheck on the `run:` scripts) on the workflow. Each tool is installed by `make venv` from the
project's own files; a missing tool fails here rather than skipping. Each linter is also shown a file
with a known problem, so a linter that silently checks nothing would fail these tests too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
DOCKERFILE = REPO / "functions" / "Dockerfile"
WORKFLOW = REPO / ".github" / "workflows" / "deploy.yml"
BIN = Path(sys.executable).parent
CHECKOV = Path(os.environ.get("FNKIT_CHECKOV", REPO / ".venv" / "checkov" / "bin" / "checkov"))


def _tool(name: str) -> str:
    path = BIN / name
    assert path.is_file(), f"{name} is not installed in {BIN}; run `make venv`"
    return str(path)


def _cfn_lint(text: str, **options: Any) -> list[str]:
    from cfnlint.api import lint
    from cfnlint.config import ManualArgs

    config = ManualArgs(regions=["us-east-1", "eu-west-1"], include_checks=["I"], **options)
    return [str(f) for f in lint(text, config=config)]


def test_cfn_lint_finds_nothing() -> None:
    # GIVEN the template and cfn-lint's rules (errors, warnings and informational), in two regions
    # WHEN linting it (cfn-lint runs the SAM transform itself) / THEN there is nothing to report
    assert _cfn_lint(TEMPLATE.read_text()) == []


def test_cfn_lint_serverless_rules_find_nothing() -> None:
    # GIVEN the AWS serverless rules on top / THEN nothing either (skips are in the resources' Metadata)
    assert _cfn_lint(TEMPLATE.read_text(), append_rules=["cfn_lint_serverless.rules"]) == []


def _strip_lint_metadata(template: dict[str, Any]) -> str:
    for resource in template["Resources"].values():
        for key in ("checkov", "cfn-lint", "fnkit"):
            resource.get("Metadata", {}).pop(key, None)
    return yaml.safe_dump(template)


def _template() -> dict[str, Any]:
    from cfnlint.decode import decode_str

    template, _ = decode_str(TEMPLATE.read_text())
    return json.loads(json.dumps(template, default=str))


def test_cfn_lint_serverless_rules_would_fire_without_the_recorded_skips() -> None:
    # GIVEN the template without its recorded skips / THEN the serverless rules report what they answer
    findings = _cfn_lint(_strip_lint_metadata(_template()), append_rules=["cfn_lint_serverless.rules"])
    assert any("WS1004" in f for f in findings), findings


def test_every_recorded_skip_has_a_reason() -> None:
    # GIVEN every resource's Metadata
    for name, resource in _template()["Resources"].items():
        metadata = resource.get("Metadata", {})
        # THEN each checkov skip carries its reason, and each cfn-lint ignore one under fnkit.lint_reasons
        for skip in metadata.get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]) and len(skip.get("comment", "")) > 20, (
                name,
                skip,
            )
        ignored = metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
        reasons = metadata.get("fnkit", {}).get("lint_reasons", {})
        assert set(ignored) == set(reasons) and all(len(r) > 20 for r in reasons.values()), name


def _checkov(directory: Path) -> list[dict[str, Any]]:
    assert CHECKOV.is_file(), f"checkov is not installed at {CHECKOV}; run `make venv`"
    completed = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", "cloudformation", "--skip-download",
         "--compact", "-o", "json"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert completed.stdout.strip(), completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    return report if isinstance(report, list) else [report]


def test_checkov_fails_no_check_and_every_skip_has_a_reason(tmp_path: Path) -> None:
    # GIVEN the template and, beside it, a copy without its recorded skips
    (tmp_path / "template.yaml").write_text(TEMPLATE.read_text())
    stripped = tmp_path / "stripped"
    stripped.mkdir()
    (stripped / "template.yaml").write_text(_strip_lint_metadata(_template()))

    # WHEN checkov scans both, offline
    results = _checkov(tmp_path)[0]["results"]
    failed = [r for r in results["failed_checks"] if "/stripped/" not in r["file_path"]]
    failed_stripped = [r for r in results["failed_checks"] if "/stripped/" in r["file_path"]]

    # THEN the template fails no check, and each skipped one has its reason
    assert [(r["check_id"], r["resource"]) for r in failed] == []
    skipped = [r for r in results["skipped_checks"] if "/stripped/" not in r["file_path"]]
    assert skipped and all(len(r["check_result"].get("suppress_comment", "")) > 20 for r in skipped)
    # AND without the skips, checkov would have failed exactly the skipped checks (none is stale)
    assert {(r["check_id"], r["resource"]) for r in failed_stripped} == {
        (r["check_id"], r["resource"]) for r in skipped
    }


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([_tool(tool), *args], capture_output=True, text=True, check=False, env=env)


def test_hadolint_finds_nothing_in_the_dockerfile(tmp_path: Path) -> None:
    # GIVEN the shared Dockerfile / THEN hadolint reports nothing
    result = _run("hadolint", str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr
    # AND it does report an unpinned install and an unquoted variable in a Dockerfile that has them
    bad = tmp_path / "Dockerfile"
    bad.write_text(DOCKERFILE.read_text() + "RUN pip install --no-cache-dir requests && echo $1\n")
    found = _run("hadolint", str(bad)).stdout
    assert "DL3013" in found and "SC2086" in found, found


def test_actionlint_finds_nothing_in_the_workflow(tmp_path: Path) -> None:
    # GIVEN the workflow, with shellcheck on PATH for its run: scripts
    assert shutil.which("shellcheck", path=str(BIN)), "shellcheck is not installed; run `make venv`"
    result = _run("actionlint", "-shellcheck", str(BIN / "shellcheck"), str(WORKFLOW))
    # THEN actionlint reports nothing
    assert result.returncode == 0, result.stdout + result.stderr
    # AND it does report a node20 action and a shell problem in a workflow that has them
    bad = tmp_path / "deploy.yml"
    text = WORKFLOW.read_text()
    text = re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v4", text, count=1)
    bad.write_text(text.replace('>> "$GITHUB_OUTPUT"', ">> $GITHUB_OUTPUT", 1))
    found = _run("actionlint", "-shellcheck", str(BIN / "shellcheck"), str(bad)).stdout
    assert "node20" in found and "SC2086" in found, found
