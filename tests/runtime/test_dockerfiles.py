"""Each registry model's Dockerfile, checked against the tree (no Docker engine runs here)."""

from __future__ import annotations

import importlib
import re
import shlex
import tomllib
from pathlib import Path

import pytest
from fnkit_ops.dockerfile import parse_dockerfile
from fnkit_runtime import constants, vocabulary

BASE_IMAGE = re.compile(r"^public\.ecr\.aws/lambda/python:3\.1[23](@sha256:[0-9a-f]{64})?$")
TASK_ROOT = "${LAMBDA_TASK_ROOT}"


def _registry(repo_root: Path) -> dict[str, dict]:
    with (repo_root / "models.toml").open("rb") as handle:
        return tomllib.load(handle)["models"]


def _models(repo_root: Path) -> list[str]:
    return sorted(_registry(repo_root))


REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = REPO_ROOT / "functions"
MODELS = _models(REPO_ROOT)


DOCKERFILE = FUNCTIONS / "Dockerfile"


def _build_args(model: str) -> dict[str, str]:
    """The model's DockerBuildArgs in the rendered template (what `sam build` passes)."""
    from fnkit_build.registry import load_registry
    from fnkit_ops.render.docker import build_args

    return build_args(load_registry(REPO_ROOT / "models.toml").models[model])


def _expand(text: str, args: dict[str, str]) -> str:
    for name, value in args.items():
        text = text.replace(f"${{{name}}}", value)
    return text


def test_one_dockerfile_serves_every_model():
    # GIVEN the functions folder / THEN there is one shared Dockerfile and no per-model copy
    assert DOCKERFILE.is_file()
    assert not list(FUNCTIONS.glob("*/Dockerfile"))
    docker = parse_dockerfile(DOCKERFILE)
    # AND it is one stage on the Lambda Python 3.12/3.13 base image (a build argument, defaulted)
    (base,) = docker.base
    assert base == "${BASE_IMAGE}"
    default = re.search(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert default and BASE_IMAGE.match(default.group(1))


@pytest.mark.parametrize("model", MODELS)
def test_dockerfile_matches_the_tree(model):
    # GIVEN the shared Dockerfile with this model's build arguments
    args = _build_args(model)
    docker = parse_dockerfile(DOCKERFILE)
    # THEN every COPY source exists in the build context, except the build output <model>/model/
    destinations = {}
    for sources, destination in docker.copies:
        for source in (_expand(s, args) for s in sources):
            destinations[source] = destination
            if source.rstrip("/") == f"{model}/{vocabulary.MODEL_SUBDIR}":
                continue
            assert (FUNCTIONS / source).exists(), f"COPY source {source} is not in functions/"
    # AND the handler and the artifact land where the runtime looks for them
    assert destinations["fnkit_runtime/"] == f"{TASK_ROOT}/fnkit_runtime/"
    assert destinations[f"{model}/model/"] == f"{TASK_ROOT}/{vocabulary.MODEL_SUBDIR}/"
    assert {k: _expand(v, args) for k, v in docker.env.items()} == {constants.MODEL_NAME_ENV: model}


def test_cmd_names_a_real_handler():
    docker = parse_dockerfile(DOCKERFILE)
    (target,) = docker.cmd
    module_name, _, attribute = target.rpartition(".")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute))


@pytest.mark.parametrize("model", MODELS)
def test_image_installs_only_the_pinned_runtime_set(model):
    # GIVEN the pip install in the Dockerfile, with the model's build arguments
    docker = parse_dockerfile(DOCKERFILE)
    installs = [_expand(r, _build_args(model)) for r in docker.runs if "pip install" in r]
    assert len(installs) == 1
    words = shlex.split(installs[0].split("&&")[1])
    assert "--no-cache-dir" in words and words[words.index("--target") + 1] == TASK_ROOT
    # AND every package is checked against the lock file's sha256, wheels only
    assert "--require-hashes" in words and "--only-binary=:all:" in words
    requirement = Path(words[words.index("-r") + 1]).name

    # THEN it is the lock of the runtime set, with the tokenizer library exactly for text models
    # (tests/runtime/test_lock.py checks each lock against its input and the input against pyproject)
    locked = set(re.findall(r"^([a-z0-9._-]+)==", (FUNCTIONS / requirement).read_text(), re.MULTILINE))
    assert {"onnxruntime", "numpy", "aws-lambda-powertools"} <= locked
    assert ("tokenizers" in locked) == ("text" in _registry(REPO_ROOT)[model])
    assert "torch" not in locked


def test_dockerignore_keeps_caches_out_of_the_context():
    ignored = (FUNCTIONS / ".dockerignore").read_text().split()
    assert "**/__pycache__" in ignored


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_build_writes_the_folder_the_dockerfile_copies(built_models, model):
    # GIVEN the shipped models built by `fnkit build` / THEN <out>/<model>/model/ holds what the image needs
    from fnkit_runtime.manifest import load_manifest, verify_artifact

    model_dir = built_models / model / vocabulary.MODEL_SUBDIR
    manifest = load_manifest(model_dir)
    verify_artifact(manifest, model_dir)
    if manifest.text is not None:
        assert (model_dir / manifest.text.tokenizer_file).is_file()
