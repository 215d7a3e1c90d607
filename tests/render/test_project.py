"""A user's registry becomes a deployable SAM project: build → render → lint/translate → invoke."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fnkit_ops.cli import main

from tests.deploy.conftest import FNKIT, CfnTemplate, decode_template, translate, with_placeholder_images
from tests.render.conftest import Project, timeseries_entry

EVENT_TYPES = ("rest-api", "http-api", "function-url", "direct", "warmup", "health")


def _cfn_lint(template: Path) -> list[str]:
    from cfnlint.api import lint
    from cfnlint.config import ManualArgs

    # the same rules as tests/deploy/test_lint.py: errors, warnings and informational checks
    config = ManualArgs(regions=["us-east-1", "eu-west-1"], include_checks=["I"])
    return [str(match) for match in lint(template.read_text(encoding="utf-8"), config=config)]


def _translated(project: Project) -> CfnTemplate:
    doc = with_placeholder_images(decode_template((project.root / "template.yaml").read_text()))
    return CfnTemplate(translate(doc, FNKIT), FNKIT)


def _invoke(project: Project, model: str, events: list[Path], tmp: Path) -> dict[str, Any]:
    argv = ["invoke", model, "--registry", str(project.registry), "--task-root", str(tmp / "task"), "--json"]
    for event in events:
        argv += ["--event", str(event)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(argv)
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


def test_outside_project_renders_a_self_contained_stack(built_project: Project) -> None:
    # GIVEN a project outside the repo, built and rendered by the CLI alone
    root = built_project.root
    # THEN it holds the stack, the one Dockerfile, every event, a samconfig, the workflow, and the
    # build context sam build needs (runtime package, pinned requirement sets, trim.py) beside the model
    for path in ("template.yaml", "functions/Dockerfile", "samconfig.toml", ".github/workflows/deploy.yml"):
        assert (root / path).is_file(), path
    for event_type in EVENT_TYPES:
        assert (root / "events" / f"trend-{event_type}.json").is_file()
    for path in ("fnkit_runtime/app.py", "requirements.txt", "requirements-text.txt", "trim.py"):
        assert (root / "functions" / path).is_file(), path
    assert (root / "functions" / "trend" / "model" / "manifest.json").is_file()
    # AND cfn-lint finds nothing, and --check says the project is current
    assert _cfn_lint(root / "template.yaml") == []
    assert main(["render", "--check", "--registry", str(built_project.registry)]) == 0


def test_outside_project_translates_to_a_function_with_aliases_alarms_and_routes(
    built_project: Project,
) -> None:
    # WHEN translating the rendered template as `sam deploy` would (fnkit strategy)
    stack = _translated(built_project)
    functions = stack.active("AWS::Lambda::Function")
    # THEN the model has one function with the registry's settings
    (function,) = functions.values()
    props = function["Properties"]
    assert (props["MemorySize"], props["Timeout"], props["ReservedConcurrentExecutions"]) == (512, 10, 5)
    assert props["Architectures"] == ["x86_64"]
    # AND both aliases: SAM's `candidate` and fnkit's own `live`
    aliases = {a["Properties"]["Name"] for a in stack.active("AWS::Lambda::Alias").values()}
    assert aliases == {"candidate", "live"}
    # AND three alarms on its own dimensions, with the registry's thresholds
    alarms = stack.active("AWS::CloudWatch::Alarm")
    assert len(alarms) == 3
    text = json.dumps(alarms)
    assert '"model", "Value": "trend"' in text
    thresholds = sorted(a["Properties"]["Threshold"] for a in alarms.values())
    assert thresholds == [2.5, 50.0, 3000.0]
    # AND its routes
    (api,) = stack.active("AWS::ApiGatewayV2::Api").values()
    assert set(api["Properties"]["Body"]["paths"]) == {"/trend/predict", "/trend/health"}


def test_outside_project_events_answer_under_the_runtime_client(
    built_project: Project, tmp_path: Path
) -> None:
    # GIVEN the rendered events of the built model (bodies are its golden requests)
    events = [built_project.root / "events" / f"trend-{t}.json" for t in EVENT_TYPES]
    manifest = json.loads((built_project.root / "functions/trend/model/manifest.json").read_text())
    assert json.loads(events[3].read_text()) == manifest["golden"][0]["request"]
    # WHEN invoking each under awslambdaric, found through the project's registry alone
    document = _invoke(built_project, "trend", events, tmp_path)
    responses = [entry["response"] for entry in document["invocations"]]
    # THEN the API events get 200s with the golden predictions, direct/warm-up/health answer
    for response in responses[:3]:
        assert response["statusCode"] == 200, response
        body = json.loads(response["body"])
        assert body["outputs"]["logits"] == responses[3]["outputs"]["logits"]
    assert responses[3]["outputs"]["logits"]
    assert responses[4]["warmup"] is True
    assert responses[5]["statusCode"] == 200


def test_dynamic_time_axis_accepts_two_lengths_and_refuses_a_wrong_channel_count(
    built_project: Project, tmp_path: Path
) -> None:
    # GIVEN direct requests of two time lengths, and one with 2 channels where the graph has 3
    requests = {
        "short": {"inputs": [[[0.1] * 16, [0.0] * 16, [0.2] * 16]]},
        "long": {"inputs": [[[0.1] * 40, [0.0] * 40, [0.2] * 40]]},
        "two-channels": {"inputs": [[[0.1] * 16, [0.0] * 16]]},
    }
    files = []
    for name, request in requests.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(request))
        files.append(path)
    # WHEN invoking them
    responses = [e["response"] for e in _invoke(built_project, "trend", files, tmp_path)["invocations"]]
    # THEN both lengths are answered, and the wrong fixed dimension is a 400 naming it
    assert len(responses[0]["outputs"]["logits"]) == 1
    assert len(responses[1]["outputs"]["logits"]) == 1
    assert responses[2]["status"] == 400, responses[2]
    assert "axis 1" in responses[2]["message"]


def test_render_never_imports_torch(built_project: Project) -> None:
    # WHEN rendering in a fresh interpreter
    code = (
        "import sys\nfrom fnkit_ops.cli import main\n"
        f"assert main(['render', '--check', '--registry', {str(built_project.registry)!r}]) == 0\n"
        "heavy = sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'transformers') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # THEN neither torch nor the build's ONNX tooling was loaded
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_third_model_is_one_entry_and_one_factory(repo_copy: Project) -> None:
    # GIVEN a copy of the kit's registry with a third model appended (entry + factory module)
    with repo_copy.registry.open("a", encoding="utf-8") as handle:
        handle.write(timeseries_entry("trend"))
    # WHEN rendering
    assert main(["render", "--registry", str(repo_copy.registry)]) == 0
    # THEN cfn-lint is clean and the translated stack has three functions, each with both aliases
    assert _cfn_lint(repo_copy.root / "template.yaml") == []
    stack = _translated(repo_copy)
    assert len(stack.active("AWS::Lambda::Function")) == 3
    assert len(stack.active("AWS::Lambda::Alias")) == 6
    assert len(stack.active("AWS::CloudWatch::Alarm")) == 9
    (api,) = stack.active("AWS::ApiGatewayV2::Api").values()
    assert {"/trend/predict", "/trend/health", "/digits/predict", "/minilm/health"} <= set(
        api["Properties"]["Body"]["paths"]
    )
    # AND its events exist with a body the function accepts (made from the signature: not built yet)
    direct = json.loads((repo_copy.root / "events" / "trend-direct.json").read_text())
    assert len(direct["inputs"][0]) == 3


@pytest.mark.parametrize(
    "edit", ["template", "registry"], ids=["hand-edited-template", "unrendered-registry"]
)
def test_check_fails_when_files_are_not_what_the_registry_renders(
    repo_copy: Project, edit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a rendered project
    assert main(["render", "--registry", str(repo_copy.registry)]) == 0
    assert main(["render", "--check", "--registry", str(repo_copy.registry)]) == 0
    capsys.readouterr()
    # WHEN the template is edited by hand, or the registry changes without a render
    if edit == "template":
        path = repo_copy.root / "template.yaml"
        path.write_text(path.read_text().replace("MemorySize: 1024", "MemorySize: 1536"))
    else:
        text = repo_copy.registry.read_text().replace("memory_mb = 1024", "memory_mb = 1536")
        repo_copy.registry.write_text(text)
    # THEN --check exits 1 with a unified diff of the template
    assert main(["render", "--check", "--registry", str(repo_copy.registry)]) == 1
    out = capsys.readouterr().out
    assert "--- a/template.yaml" in out and "+++ b/template.yaml" in out
    changed = [line for line in out.splitlines() if "MemorySize:" in line and line[:1] in "+-"]
    # the hand edit is undone (- 1536, + 1024); the registry change is rendered (- 1024, + 1536)
    wanted = ("-", "+") if edit == "template" else ("+", "-")
    assert any(line.startswith(wanted[0]) and line.endswith("1536") for line in changed), changed
    assert any(line.startswith(wanted[1]) and line.endswith("1024") for line in changed), changed


def test_a_file_render_did_not_generate_is_never_overwritten(
    repo_copy: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a hand-written Dockerfile where render would write its own
    dockerfile = repo_copy.root / "functions" / "Dockerfile"
    dockerfile.parent.mkdir(parents=True)
    dockerfile.write_text("FROM scratch\n")
    # WHEN rendering
    code = main(["render", "--registry", str(repo_copy.registry)])
    # THEN render refuses with exit 2 naming the file, and writes nothing at all
    assert code == 2
    assert "functions/Dockerfile" in capsys.readouterr().err
    assert dockerfile.read_text() == "FROM scratch\n"
    assert not (repo_copy.root / "template.yaml").exists()
    # AND --force replaces it with the generated one
    assert main(["render", "--force", "--registry", str(repo_copy.registry)]) == 0
    assert "Generated by `fnkit render`" in dockerfile.read_text()


def test_samconfig_is_written_only_when_the_project_has_none(repo_copy: Project) -> None:
    # GIVEN a project with its own samconfig.toml
    own = "version = 0.1\n# mine\n"
    (repo_copy.root / "samconfig.toml").write_text(own)
    # WHEN rendering / THEN it is left as it is
    assert main(["render", "--registry", str(repo_copy.registry)]) == 0
    assert (repo_copy.root / "samconfig.toml").read_text() == own


def test_the_repo_renders_the_same_whether_its_models_are_built_or_not(
    repo_root: Path, built_models: Path
) -> None:
    # GIVEN the shipped models built (`make demo` before `make test`); `make lint` covers the unbuilt case
    # THEN the committed files are what render makes from the built manifests' golden requests
    registry = str(repo_root / "models.toml")
    assert main(["render", "--check", "--registry", registry, "--artifacts", str(built_models)]) == 0
