"""A project — a folder holding `models.toml` — and everything `fnkit render` writes into it.

Paths are relative to the registry's folder. The kit's own repository is one such project; for any
other, render also copies the runtime package, the pinned requirement sets and `trim.py` into the
project's `functions/` (the Docker build context), so `sam build` there needs nothing from the kit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fnkit_build.project import FUNCTIONS_DIR, artifacts_dir
from fnkit_build.registry import ModelSpec, Registry
from fnkit_runtime import constants as c
from fnkit_runtime.exceptions import ManifestError, RequestError
from fnkit_runtime.manifest import load_manifest
from fnkit_runtime.vocabulary import MODEL_SUBDIR

from fnkit_ops.events import EVENT_TYPES
from fnkit_ops.render import events as ev
from fnkit_ops.render.docker import DOCKER_CONTEXT, DOCKERFILE, dockerfile
from fnkit_ops.render.files import Rendered, header, is_ours
from fnkit_ops.render.samconfig import SAMCONFIG_FILE, samconfig
from fnkit_ops.render.template import NAMESPACE, render_template
from fnkit_ops.render.workflow import WORKFLOW_FILE, render_workflow

TEMPLATE_FILE = "template.yaml"
assert f"./{FUNCTIONS_DIR}" == DOCKER_CONTEXT
KIT_FUNCTIONS = Path(c.__file__).resolve().parents[1]
"""The kit's `functions/` folder: the runtime package's parent (the build context in the kit's repo)."""
KIT_CONTEXT_FILES = ("requirements.txt", "requirements-text.txt", "trim.py", ".dockerignore")


def built_request(spec: ModelSpec, artifacts: Path) -> dict[str, Any] | None:
    """The built model's golden request with the largest batch (the first of equals), if it is built.

    A batch shows more of the contract than one item; the goldens' requests are the factory's fixed
    held-out inputs, so every build machine renders the same events.
    """
    try:
        manifest = load_manifest(artifacts / spec.name / MODEL_SUBDIR)
    except ManifestError:
        return None
    if not manifest.golden:
        return None
    largest = max(manifest.golden, key=lambda g: len(next(iter(g.outputs.values()), [])))
    return dict(largest.request)


def valid_request(spec: ModelSpec, request: Any) -> bool:
    """Whether the function would accept `request` (the runtime's own decoding and validation)."""
    from fnkit_runtime.feeds import tensor_feeds
    from fnkit_runtime.text import parse_texts
    from fnkit_runtime.validation import check_body

    try:
        body = check_body(request)
        if spec.text is not None:
            parse_texts(body["inputs"], spec.limits)
            return True
        tensor_feeds(body["inputs"], list(spec.inputs), spec.limits)
    except (RequestError, KeyError, TypeError, ValueError):
        return False
    return True


def _kept_request(spec: ModelSpec, root: Path) -> Any:
    """The body of the committed direct event, kept while the model is not built (so renders agree)."""
    path = root / "events" / f"{spec.name}-direct.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def request_for(spec: ModelSpec, root: Path, artifacts: Path) -> dict[str, Any]:
    """A golden request when built; else the committed one if still valid; else one from the signature."""
    built = built_request(spec, artifacts)
    if built is not None:
        return built
    kept = _kept_request(spec, root)
    if isinstance(kept, dict) and valid_request(spec, kept):
        return kept
    return ev.signature_request(spec)


def _runtime_copies(root: Path) -> dict[str, str]:
    """The build context's kit files, for a project that is not the kit's own repository."""
    target = root / FUNCTIONS_DIR
    if target.resolve() == KIT_FUNCTIONS:
        return {}
    files: dict[str, str] = {}
    package = KIT_FUNCTIONS / "fnkit_runtime"
    for path in sorted(package.rglob("*.py")):
        files[f"{FUNCTIONS_DIR}/fnkit_runtime/{path.relative_to(package).as_posix()}"] = path.read_text(
            "utf-8"
        )
    for name in KIT_CONTEXT_FILES:
        files[f"{FUNCTIONS_DIR}/{name}"] = (KIT_FUNCTIONS / name).read_text("utf-8")
    return files


def render_project(registry: Registry, artifacts: Path | None = None) -> Rendered:
    root = registry.path.resolve().parent
    artifacts = artifacts_dir(registry.path, artifacts)
    specs = list(registry.models.values())
    files: dict[str, str] = {
        TEMPLATE_FILE: render_template(specs),
        f"{FUNCTIONS_DIR}/{DOCKERFILE}": header() + dockerfile(),
        WORKFLOW_FILE: render_workflow(NAMESPACE),
    }
    for spec in specs:
        events = ev.model_events(spec, request_for(spec, root, artifacts))
        for event_type in EVENT_TYPES:
            files[f"events/{spec.name}-{event_type}.json"] = ev.event_text(events[event_type])
    if not (root / SAMCONFIG_FILE).exists() or is_ours(root, SAMCONFIG_FILE):
        files[SAMCONFIG_FILE] = samconfig()
    files.update(_runtime_copies(root))
    return Rendered(root, files)


def model_list(registry: Registry) -> list[dict[str, str]]:
    """The CI matrix: each model with the prefix of its stack outputs (`DigitsFunctionName`...)."""
    from fnkit_build.stack import logical_prefix

    return [{"model": name, "output": logical_prefix(name)} for name in registry.models]
