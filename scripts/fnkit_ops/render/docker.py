"""The one Dockerfile every model's image is built from, parametrised by SAM's DockerBuildArgs.

Build context: the project's `functions/` folder, which holds the runtime package (`fnkit_runtime/`),
the pinned requirement sets, `trim.py` and each model's built `<model>/model/`. `sam build` passes
MODEL and REQUIREMENTS per function (template Metadata.DockerBuildArgs); by hand:
    docker build -f functions/Dockerfile --build-arg MODEL=digits -t fnkit-digits functions/
"""

from __future__ import annotations

from fnkit_build.registry import ModelSpec
from fnkit_runtime import constants as c
from fnkit_runtime.vocabulary import MODEL_SUBDIR

from fnkit_ops.invoke.constants import REQUIREMENTS_FILE, REQUIREMENTS_TEXT_FILE

DOCKER_CONTEXT = "./functions"
DOCKERFILE = "Dockerfile"
"""Relative to DockerContext, as SAM resolves it."""
BASE_IMAGE = "public.ecr.aws/lambda/python:3.12"
HANDLER = "fnkit_runtime.app.handler"
TRIM_SCRIPT = "trim.py"
RUNTIME_PACKAGE = "fnkit_runtime"


def requirements_for(spec: ModelSpec) -> str:
    """Text models add the tokenizer library to the runtime set."""
    return REQUIREMENTS_TEXT_FILE if spec.text is not None else REQUIREMENTS_FILE


def build_args(spec: ModelSpec) -> dict[str, str]:
    return {"MODEL": spec.name, "REQUIREMENTS": requirements_for(spec)}


def dockerfile() -> str:
    task = "${LAMBDA_TASK_ROOT}"
    return f"""\
# AWS's Lambda Python base image, Python 3.12; the tag is a multi-arch manifest (x86_64 and arm64),
# so the function's Architectures picks the right one. Pin it by digest (docs/deploy.md says how to
# read the current one and update it):
#   docker build --build-arg BASE_IMAGE={BASE_IMAGE}@sha256:<digest> ...
ARG BASE_IMAGE={BASE_IMAGE}
FROM ${{BASE_IMAGE}}

# Which model this image serves and which pinned requirement set it needs (SAM DockerBuildArgs).
ARG MODEL
ARG REQUIREMENTS={REQUIREMENTS_FILE}

# The runtime set only (onnxruntime, numpy, aws-lambda-powertools; tokenizers for text models), from
# its lock file: every package, transitive ones too, pinned with its sha256 (`make lock`), wheels only,
# into the task root; then trim what the runtime never loads (the list `fnkit invoke` applies).
COPY {REQUIREMENTS_FILE} {REQUIREMENTS_TEXT_FILE} {TRIM_SCRIPT} {task}/
RUN test -n "${{MODEL}}" \\
    && pip install --no-cache-dir --require-hashes --only-binary=:all: \\
        -r "{task}/${{REQUIREMENTS}}" --target "{task}" \\
    && python "{task}/{TRIM_SCRIPT}" "{task}" \\
    && rm "{task}/{REQUIREMENTS_FILE}" "{task}/{REQUIREMENTS_TEXT_FILE}" "{task}/{TRIM_SCRIPT}"

# The handler package, compiled now (/var/task is read-only on Lambda), then the built artifact,
# which changes most often, last.
COPY {RUNTIME_PACKAGE}/ {task}/{RUNTIME_PACKAGE}/
RUN python -m compileall -q "{task}/{RUNTIME_PACKAGE}"
COPY ${{MODEL}}/{MODEL_SUBDIR}/ {task}/{MODEL_SUBDIR}/

ENV {c.MODEL_NAME_ENV}=${{MODEL}}

CMD ["{HANDLER}"]
"""
