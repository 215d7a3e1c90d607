"""Pre-traffic smoke test: invoke the new version directly with the manifest's golden requests.

Each golden sample's `request` is sent as a direct-invocation event (`lambda.invoke` with
`Qualifier=<version>`, so no alias traffic is involved) and the response's `outputs` must match the
golden `outputs` within the sample's atol/rtol (and, for embeddings, its cosine floor). The build
derives those tolerances from the spread it measured across the function's target CPU classes, so
they hold on any CPU the function may land on and still fail a wrong model. Any function error,
error body, missing output, shape mismatch or value outside tolerance fails the gate; all failures
are collected and reported.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnkit_runtime.golden_check import golden_mismatches
from fnkit_runtime.manifest import GoldenSample, load_manifest
from fnkit_runtime.vocabulary import MANIFEST_FILE

from fnkit_ops.promote.alias import LambdaClient
from fnkit_ops.promote.exceptions import PromoteUsageError
from fnkit_ops.promote.report import record_dict


@dataclass(frozen=True)
class SmokeResult:
    passed: bool
    samples: int
    failures: tuple[str, ...] = ()
    details: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return record_dict(self)


def load_golden(path: Path) -> list[GoldenSample]:
    """Golden samples from a manifest.json path or the model folder holding it."""
    model_dir = path.parent if path.name == MANIFEST_FILE or path.is_file() else path
    manifest = load_manifest(model_dir)
    if not manifest.golden:
        raise PromoteUsageError(f"manifest in {model_dir} has no golden samples to smoke-test with")
    return list(manifest.golden)


def _invoke(client: LambdaClient, function: str, version: str, request: dict[str, Any]) -> tuple[Any, str]:
    response = client.invoke(
        FunctionName=function,
        Qualifier=version,
        InvocationType="RequestResponse",
        Payload=json.dumps(request).encode("utf-8"),
    )
    raw = response["Payload"].read()
    try:
        body = json.loads(raw)
    except ValueError:
        return None, f"response is not JSON: {raw[:200]!r}"
    if response.get("FunctionError"):
        return None, f"function error {response['FunctionError']}: {str(body)[:300]}"
    return body, ""


def run_smoke(
    client: LambdaClient, function: str, version: str, samples: Sequence[GoldenSample]
) -> SmokeResult:
    failures: list[str] = []
    details: list[dict[str, Any]] = []
    for index, sample in enumerate(samples):
        body, problem = _invoke(client, function, version, sample.request)
        problems = [problem] if problem else []
        if not problems and isinstance(body, dict) and "error" in body:
            problems.append(f"error response {body.get('error')}: {body.get('message', '')}")
        if not problems and isinstance(body, dict):
            served = body.get("function_version")
            if served is not None and str(served) != version:
                problems.append(f"served by version {served}, not {version}")
            problems += golden_mismatches(sample, body.get("outputs"))
        details.append({"sample": index, "passed": not problems, "problems": problems})
        failures += [f"golden sample {index}: {p}" for p in problems]
    return SmokeResult(not failures, len(samples), tuple(failures), details)
