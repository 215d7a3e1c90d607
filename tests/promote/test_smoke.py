"""Pre-traffic smoke test: the new version is invoked directly (Qualifier=N) with the manifest's golden
requests. moto cannot invoke Image functions (it raises inside moto), so the exact Invoke request is
checked with botocore's Stubber, and the end-to-end run wraps moto's client with a thin `invoke` fake.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from fnkit_ops.promote.config import Dependencies, PromotionConfig
from fnkit_ops.promote.gates import GateConfig
from fnkit_ops.promote.promoter import promote
from fnkit_ops.promote.smoke import load_golden, run_smoke
from fnkit_ops.promote.strategy import parse_strategy
from fnkit_runtime.manifest import ArtifactInfo, GateInfo, GoldenSample, TensorSpec

from tests.manifests import hand_made_manifest, write_manifest

from .conftest import FUNCTION, FakeClock, Stack

REQUEST = {"inputs": [[[[0.0] * 8] * 8]]}
GOLDEN_OUT = {"logits": [[0.5, -1.25, 3.0]]}


def _manifest(model_dir: Path) -> Path:
    manifest = hand_made_manifest(
        model="digits",
        task="classification",
        variant="int8-static-qdq",
        artifact=ArtifactInfo("model.onnx", "0" * 64, 1, 17, "1.32.0", False),
        inputs=[TensorSpec("pixels", "float32", ["batch", 1, 8, 8])],
        outputs=[TensorSpec("logits", "float32", ["batch", 3])],
        gate=GateInfo("accuracy_drop", 0.005, 0.97, 0.968),
        metric=0.002,
        golden=[GoldenSample(REQUEST, GOLDEN_OUT, atol=1e-3, rtol=1e-3)],
        labels=["0", "1", "2"],
    )
    write_manifest(model_dir, manifest)
    return model_dir


def _payload(body: dict[str, Any]) -> StreamingBody:
    raw = json.dumps(body).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def _response(outputs: dict[str, Any], version: str = "2") -> dict[str, Any]:
    return {
        "model": "digits",
        "model_version": "abc",
        "function_version": version,
        "batch_size": 1,
        "outputs": outputs,
    }


@pytest.mark.parametrize(
    ("body", "function_error", "problem"),
    [
        pytest.param(_response({"logits": [[0.5, -1.25, 3.0004]]}), None, None, id="within-tolerance"),
        pytest.param(
            _response({"logits": [[0.5, -1.25, 3.5]]}), None, "max abs diff 0.5", id="outside-tolerance"
        ),
        pytest.param(_response({"logits": [[0.5, -1.25]]}), None, "shape", id="wrong-shape"),
        pytest.param(_response({}), None, "missing", id="missing-output"),
        pytest.param(_response(GOLDEN_OUT, version="1"), None, "served by version 1", id="wrong-version"),
        pytest.param(
            {"error": "BadRequestError", "message": "no", "request_id": "r"},
            None,
            "error response",
            id="error-body",
        ),
        pytest.param(
            {"errorMessage": "boom", "errorType": "RuntimeError"}, "Unhandled", "function error", id="crash"
        ),
    ],
)
def test_smoke_invokes_the_version_directly_and_compares(
    tmp_path: Path, body: dict[str, Any], function_error: str | None, problem: str | None
):
    # GIVEN a manifest with one golden sample and a Lambda answering the direct invocation
    samples = load_golden(_manifest(tmp_path) / "manifest.json")
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    response: dict[str, Any] = {"StatusCode": 200, "Payload": _payload(body)}
    if function_error:
        response["FunctionError"] = function_error
    with Stubber(client) as stubber:
        # THEN the request is the golden request body, sent to version 2 itself (not the alias)
        stubber.add_response(
            "invoke",
            response,
            {
                "FunctionName": FUNCTION,
                "Qualifier": "2",
                "InvocationType": "RequestResponse",
                "Payload": json.dumps(REQUEST).encode(),
            },
        )

        # WHEN smoke-testing version 2
        result = run_smoke(client, FUNCTION, "2", samples)
        stubber.assert_no_pending_responses()

    # THEN it passes only when outputs match within the sample's tolerance
    assert result.passed is (problem is None), result.failures
    if problem:
        assert problem in result.failures[0]


class InvokeFake:
    """moto's Lambda client with `invoke` answered by the test (moto cannot run Image functions)."""

    def __init__(self, moto_lambda: Any, outputs: dict[str, Any]) -> None:
        self._lam = moto_lambda
        self.outputs = outputs
        self.invocations: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lam, name)

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.invocations.append(request)
        return {"StatusCode": 200, "Payload": _payload(_response(self.outputs, request["Qualifier"]))}


@pytest.mark.parametrize(
    ("outputs", "code", "version"),
    [
        pytest.param(GOLDEN_OUT, 0, "2", id="passes-then-promotes"),
        pytest.param({"logits": [[9.0, 9.0, 9.0]]}, 1, "1", id="fails-before-any-traffic"),
    ],
)
def test_promotion_runs_the_smoke_test_before_shifting(
    stack: Stack, clock: FakeClock, tmp_path: Path, outputs: dict[str, Any], code: int, version: str
):
    # GIVEN a built model's manifest and a function that answers with `outputs`
    model_dir = _manifest(tmp_path / "model")
    lam = InvokeFake(stack.lam, outputs)
    config = PromotionConfig(
        function=FUNCTION,
        version="2",
        strategy=parse_strategy("all-at-once"),
        gates=GateConfig(),
        smoke_manifest=model_dir,
    )
    deps = Dependencies(
        lambda_client=lam, cloudwatch=stack.cw, clock=clock, sleep=clock.sleep, log=lambda _: None
    )

    # WHEN promoting all at once with --smoke-manifest
    result = promote(config, deps)

    # THEN version 2 was invoked directly once; a mismatch stops it before any traffic moved, and
    # the one write records version 2's image as rejected in the alias's description
    assert result.exit_code == code, result.reason
    assert [i["Qualifier"] for i in lam.invocations] == ["2"]
    assert result.report.smoke["passed"] is (code == 0)
    assert stack.alias() == {"version": version, "weights": {}}
    [write] = result.report.alias_writes
    assert write["action"] == ("rollback" if code else "promote")
    rejected = f"fnkit:1 rejected={stack.sha256('2')[:16]}"
    assert stack.description() == (rejected if code else "")
