"""cfn-lint on template.yaml: no finding at all, informational checks included."""

from __future__ import annotations

from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def test_cfn_lint_finds_nothing() -> None:
    from cfnlint.api import lint
    from cfnlint.config import ManualArgs

    # GIVEN the template and cfn-lint's rules (errors, warnings and informational), in two regions
    config = ManualArgs(regions=["us-east-1", "eu-west-1"], include_checks=["I"])
    # WHEN linting it (cfn-lint runs the SAM transform itself)
    findings = lint(TEMPLATE.read_text(), config=config)
    # THEN there is nothing to report
    assert [str(f) for f in findings] == []
