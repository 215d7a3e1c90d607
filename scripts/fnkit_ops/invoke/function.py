"""A built model as a function: find its artifact, assemble its task root, configure it like Lambda."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnkit_build.project import DEFAULT_REGISTRY
from fnkit_runtime.constants import DEFAULT_NAMESPACE, METRICS_NAMESPACE_ENV, SERVICE_NAME_ENV
from fnkit_runtime.manifest import Manifest, load_manifest, verify_artifact
from fnkit_runtime.vocabulary import MANIFEST_FILE, MODEL_SUBDIR

from fnkit_ops.invoke.constants import DEFAULT_REGION
from fnkit_ops.invoke.exceptions import ModelNotBuiltError
from fnkit_ops.invoke.process import FunctionConfig
from fnkit_ops.invoke.taskroot import (
    TaskRoot,
    assemble_task_root,
    function_copies,
    functions_source_dir,
    requirements_file_for,
)

LOCAL_STACK_NAME = "local"
"""What `AWS::StackName` resolves to locally: the SAM CLI's default for `sam local invoke`."""
_PSEUDO_PARAMETERS = {"AWS::StackName": LOCAL_STACK_NAME, "AWS::Region": DEFAULT_REGION}


@dataclass(frozen=True)
class TemplateSettings:
    """What the rendered template sets for the function: its Environment, Timeout and architecture."""

    env: dict[str, str]
    timeout_s: int
    architecture: str


def _resolve(value: Any) -> str | None:
    """A template value as the function sees it: scalars as strings, pseudo-parameter Refs resolved."""
    from fnkit_ops.render import cfn

    if isinstance(value, cfn.Tag):
        return _PSEUDO_PARAMETERS.get(value.value) if value.name == "Ref" else None
    return None if value is None else str(value)


def template_settings(registry: Path, model: str) -> TemplateSettings | None:
    """The model's function settings from what `fnkit render` writes (None when it is not registered)."""
    from fnkit_build.exceptions import RegistryError
    from fnkit_build.registry import load_registry

    from fnkit_ops.render.template import function_environment

    try:
        spec = load_registry(registry).models.get(model)
    except RegistryError:
        return None
    if spec is None:
        return None
    resolved = {name: _resolve(value) for name, value in function_environment(spec).items()}
    env = {name: value for name, value in resolved.items() if value is not None}
    return TemplateSettings(env, spec.stack.timeout_s, spec.function.architecture)


@dataclass(frozen=True)
class BuiltFunction:
    """A model that `fnkit build` has written: its folder, manifest and requirements file."""

    model: str
    model_dir: Path
    manifest: Manifest
    requirements: Path

    @property
    def function_name(self) -> str:
        return f"fnkit-{self.model}"


def _registry_models() -> list[str]:
    """The kit's registry's model names, read by the registry loader; none when it does not load."""
    from fnkit_build.exceptions import RegistryError
    from fnkit_build.registry import load_registry

    try:
        return sorted(load_registry(functions_source_dir().parent / DEFAULT_REGISTRY).models)
    except RegistryError:
        return []


def locate_built_model(model: str, artifacts_dir: Path) -> BuiltFunction:
    """The built model in `artifacts_dir/<model>/model/`, its manifest read and artifact verified."""
    model_dir = artifacts_dir / model / MODEL_SUBDIR
    if not (model_dir / MANIFEST_FILE).is_file():
        known = _registry_models()
        if known and model not in known:
            raise ModelNotBuiltError(f"unknown model {model!r}; the registry has: {', '.join(known)}")
        raise ModelNotBuiltError(
            f"model {model!r} is not built in {artifacts_dir} (no {model_dir / MANIFEST_FILE}); "
            f"run `fnkit build {model}` first"
        )
    manifest = load_manifest(model_dir)
    if manifest.model != model:
        raise ModelNotBuiltError(f"{model_dir} holds model {manifest.model!r}, not {model!r}")
    verify_artifact(manifest, model_dir)
    requirements = requirements_file_for(model, manifest.text is not None)
    return BuiltFunction(model, model_dir, manifest, requirements)


def assemble_function(
    built: BuiltFunction,
    dest: Path,
    *,
    trim: bool = True,
    cache: Path | None = None,
    wheels: Sequence[str] = (),
) -> TaskRoot:
    """The function's task root in `dest`, as its Dockerfile builds the image (`wheels`: pip's
    arguments for another platform's wheels, as an arm64 function under qemu takes them)."""
    return assemble_task_root(
        dest, built.requirements, function_copies(built.model_dir), trim=trim, cache=cache, wheels=wheels
    )


def function_config(
    built: BuiltFunction, memory_mb: int | None = None, env: Mapping[str, str] | None = None
) -> FunctionConfig:
    """Lambda's configuration for the function: the manifest's memory size unless overridden."""
    defaults = {SERVICE_NAME_ENV: built.model, METRICS_NAMESPACE_ENV: DEFAULT_NAMESPACE}
    return FunctionConfig(
        function_name=built.function_name,
        memory_mb=memory_mb or built.manifest.function.memory_mb,
        model=built.model,
        env={**defaults, **(env or {})},
    )
