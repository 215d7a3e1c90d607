"""Promotion test fixtures: a moto account with an Image function, its versions and a `live` alias,
a fake clock whose sleep advances virtual time (no test sleeps for real), and helpers that publish
per-version AWS/Lambda metrics the way Lambda does (FunctionName, Resource, ExecutedVersion) and the
function's EMF metrics the way its powertools Metrics do (service, model, function_version).

`run_promote` passes `--settle-seconds 0` unless the test gives the flag itself, so a step lasts its
minutes exactly; the settle wait is tested on its own (test_settle_bake.py).

moto 5.2.5 gaps these tests work around:
- moto's get_metric_data cannot compute percentile statistics (p99 raises inside moto), so the p99
  part of a query is answered by `P99CloudWatch`, a thin wrapper that serves only the `p99` queries
  from two tables (Lambda Duration by ExecutedVersion, EMF InferenceTime by function_version) and
  passes every other query to moto unchanged.
- moto matches metric dimensions as an ordered list (real CloudWatch does not): it "sorts" both lists
  with a broken `Dimension.__lt__`, so only the same order matches reliably. `put_version_metrics` and
  `put_server_errors` therefore use the reader's own `dimensions()` order (for EMF: service, model,
  function_version, the order of template.yaml's alarms).
- when a query has dimensions, moto's get_metric_data ignores its namespace (it matches metric name
  and dimensions only), so these tests cannot show the EMF namespace is honoured: the exact request,
  namespace included, is checked with botocore's Stubber in test_metrics_gates.py.
- moto never changes an alias's RevisionId and does not validate routing weights: those contracts are
  tested with botocore's Stubber in test_alias_contract.py.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from fnkit_ops.promote import cli as promote_cli
from fnkit_ops.promote.config import Dependencies
from fnkit_ops.promote.marks import AliasMark, Shift, code_digest
from fnkit_ops.promote.metrics import CloudWatchMetricsReader, EmfSource
from moto import mock_aws

REGION = "us-east-1"
FUNCTION = "fnkit-digits"
ALIAS = "live"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fnkit-digits:{tag}"
ALARM = "fnkit-digits-errors"
EMF = EmfSource(namespace="fnkit", service="fnkit", model="digits")
"""The stack's EMF source: POWERTOOLS_METRICS_NAMESPACE fnkit, service = stack name, the model."""
EMF_FLAGS = ("--emf-namespace", EMF.namespace, "--emf-service", EMF.service, "--emf-model", EMF.model)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@dataclass
class Stack:
    """The moto side: clients, and the function with versions 1..3 and alias live → 1."""

    lam: Any
    cw: Any

    def alias(self) -> dict[str, Any]:
        response = self.lam.get_alias(FunctionName=FUNCTION, Name=ALIAS)
        return {
            "version": response["FunctionVersion"],
            "weights": (response.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {},
        }

    def description(self) -> str:
        return str(self.lam.get_alias(FunctionName=FUNCTION, Name=ALIAS).get("Description") or "")

    def sha256(self, version: str) -> str:
        config = self.lam.get_function(FunctionName=FUNCTION, Qualifier=version)["Configuration"]
        return code_digest(config["CodeSha256"])

    def set_routing(self, primary: str, weights: dict[str, float], description: str = "") -> None:
        """Move the alias by hand, as a killed run or a concurrent writer leaves it."""
        self.lam.update_alias(
            FunctionName=FUNCTION,
            Name=ALIAS,
            FunctionVersion=primary,
            RoutingConfig={"AdditionalVersionWeights": weights},
            Description=description,
        )

    def fnkit_shift(self, primary: str, version: str, weight: float, run_id: str = "killed-run") -> None:
        """The alias as a promotion fnkit started (and was killed in) leaves it: marked."""
        mark = AliasMark(Shift(run_id, version, self.sha256(version)))
        self.set_routing(primary, {version: weight}, mark.render())

    def add_alarm(self, name: str = ALARM, state: str = "OK") -> None:
        self.cw.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Dimensions=[{"Name": "FunctionName", "Value": FUNCTION}],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        self.set_alarm(name, state)

    def set_alarm(self, name: str, state: str) -> None:
        self.cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


@pytest.fixture(scope="session")
def boto_session() -> boto3.session.Session:
    """One session for every test: it caches the service models (a fresh boto3.client costs ~0.5 s).
    Created after moto is imported, so its clients go through moto inside `mock_aws()`."""
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture
def stack(aws: None, boto_session: boto3.session.Session) -> Stack:
    lam = boto_session.client("lambda")
    iam = boto_session.client("iam")
    role = iam.create_role(RoleName="fnkit-test", AssumeRolePolicyDocument=json.dumps({}))["Role"]["Arn"]
    lam.create_function(
        FunctionName=FUNCTION, PackageType="Image", Code={"ImageUri": IMAGE.format(tag="v1")}, Role=role
    )
    for tag in ("v1", "v2", "v3"):
        if tag != "v1":
            lam.update_function_code(FunctionName=FUNCTION, ImageUri=IMAGE.format(tag=tag))
        lam.publish_version(FunctionName=FUNCTION, Description=tag)
    lam.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="1")
    return Stack(lam=lam, cw=boto_session.client("cloudwatch"))


@dataclass
class FakeClock:
    """Virtual time: `sleep` advances it and runs the hooks registered for the new instant."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(second=5, microsecond=0))
    sleeps: list[float] = field(default_factory=list)
    on_sleep: list[Callable[[FakeClock], None]] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "the promoter must never sleep for zero or negative time"
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        for hook in list(self.on_sleep):
            hook(self)

    @property
    def elapsed(self) -> float:
        return sum(self.sleeps)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def put_version_metrics(
    cw: Any, version: str, at: datetime, invocations: int, errors: int = 0, durations: tuple[float, ...] = ()
) -> None:
    """Publish what Lambda publishes for one version behind the alias (ExecutedVersion dimension)."""
    dims = CloudWatchMetricsReader(cw, FUNCTION, ALIAS).dimensions(version)
    data = [
        {"MetricName": "Invocations", "Dimensions": dims, "Value": float(invocations), "Timestamp": at},
        {"MetricName": "Errors", "Dimensions": dims, "Value": float(errors), "Timestamp": at},
    ]
    data += [{"MetricName": "Duration", "Dimensions": dims, "Value": d, "Timestamp": at} for d in durations]
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=data)


def put_server_errors(cw: Any, version: str, at: datetime, count: int, source: EmfSource = EMF) -> None:
    """Publish what the function's EMF document carries when `version` answered `count` 5xx."""
    put_emf(cw, version, at, server_errors=count, source=source)


def put_emf(
    cw: Any,
    version: str,
    at: datetime,
    *,
    requests: int = 0,
    client_errors: int = 0,
    server_errors: int = 0,
    inferences: int = 0,
    inference_ms: float = 5.0,
    model_loads: int = 0,
    model_load_ms: float = 150.0,
    source: EmfSource = EMF,
) -> None:
    """Publish what `version`'s EMF documents carry (counts emitted only when non-zero, as powertools
    does; `inferences` InferenceTime samples of `inference_ms`, `model_loads` of `model_load_ms`)."""
    dims = source.dimensions(version)
    data: list[dict[str, Any]] = [
        {"MetricName": name, "Dimensions": dims, "Value": float(count), "Unit": "Count", "Timestamp": at}
        for name, count in (
            ("Requests", requests),
            ("ClientErrors", client_errors),
            ("ServerErrors", server_errors),
        )
        if count
    ]
    for name, samples, value in (
        ("InferenceTime", inferences, inference_ms),
        ("ModelLoadTime", model_loads, model_load_ms),
    ):
        if samples:
            data.append(
                {
                    "MetricName": name,
                    "Dimensions": dims,
                    "Values": [value],
                    "Counts": [float(samples)],
                    "Unit": "Milliseconds",
                    "Timestamp": at,
                }
            )
    if data:
        cw.put_metric_data(Namespace=source.namespace, MetricData=data)


class P99CloudWatch:
    """moto's CloudWatch client, except `p99` queries, which moto cannot compute: Lambda Duration's
    are answered from `p99_ms[version]`, EMF InferenceTime's from `inference_p99_ms[version]` (no value
    when the version is absent). Everything else goes to moto."""

    def __init__(
        self, moto_cw: Any, p99_ms: dict[str, float], inference_p99_ms: dict[str, float] | None = None
    ) -> None:
        self._cw = moto_cw
        self.p99_ms = p99_ms
        self.inference_p99_ms = inference_p99_ms or {}
        self.p99_queries: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cw, name)

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        queries = request["MetricDataQueries"]
        percentile = [q for q in queries if q["MetricStat"]["Stat"] == "p99"]
        others = [q for q in queries if q["MetricStat"]["Stat"] != "p99"]
        response = self._cw.get_metric_data(**{**request, "MetricDataQueries": others})
        for query in percentile:
            self.p99_queries.append(query)
            dims = {d["Name"]: d["Value"] for d in query["MetricStat"]["Metric"]["Dimensions"]}
            if "ExecutedVersion" in dims:
                value = self.p99_ms.get(dims["ExecutedVersion"])
            else:
                value = self.inference_p99_ms.get(dims["function_version"])
            response["MetricDataResults"].append(
                {"Id": query["Id"], "StatusCode": "Complete", "Values": [] if value is None else [value]}
            )
        return response


def traffic(cw: Any, per_poll: dict[str, tuple[int, int]]) -> Callable[[FakeClock], None]:
    """A sleep hook: after each sleep, each version gets (invocations, errors) at the new instant."""

    def hook(clock: FakeClock) -> None:
        for version, (invocations, errors) in per_poll.items():
            put_version_metrics(cw, version, clock.now - timedelta(seconds=1), invocations, errors)

    return hook


def emf_traffic(cw: Any, per_poll: dict[str, dict[str, Any]]) -> Callable[[FakeClock], None]:
    """A sleep hook: after each sleep, each version's EMF documents carry `put_emf(**per_poll[v])`."""

    def hook(clock: FakeClock) -> None:
        for version, numbers in per_poll.items():
            put_emf(cw, version, clock.now - timedelta(seconds=1), **numbers)

    return hook


def server_error_traffic(cw: Any, per_poll: dict[str, int]) -> Callable[[FakeClock], None]:
    """A sleep hook: after each sleep, each version reports that many EMF ServerErrors."""

    def hook(clock: FakeClock) -> None:
        for version, count in per_poll.items():
            put_server_errors(cw, version, clock.now - timedelta(seconds=1), count)

    return hook


@dataclass
class Run:
    code: int
    report: dict[str, Any]
    lines: list[str]

    @property
    def weights(self) -> list[float]:
        """The target's share after each alias write (1.0 = promoted, 0.0 = back at the old version)."""
        target = self.report["target_version"]
        shares = []
        for write in self.report["alias_writes"]:
            state = write["state"]
            full = state["function_version"] == target
            shares.append(1.0 if full else float(state["weights"].get(target, 0.0)))
        return shares


RunPromote = Callable[..., Run]


@pytest.fixture
def run_promote(stack: Stack, clock: FakeClock, tmp_path: Path) -> RunPromote:
    """`run_promote(argv, p99_ms=None, inference_p99_ms=None, cloudwatch=None)`: parse `fnkit promote`
    arguments as the CLI does and run them against moto with the fake clock (`cloudwatch` wraps the
    P99CloudWatch client, for tests that break it); returns the exit code, the parsed report and the
    progress lines."""

    def run(
        argv: list[str],
        p99_ms: dict[str, float] | None = None,
        inference_p99_ms: dict[str, float] | None = None,
        cloudwatch: Callable[[Any], Any] | None = None,
    ) -> Run:
        client = P99CloudWatch(stack.cw, p99_ms or {}, inference_p99_ms)
        return _run_promote(argv, stack, clock, tmp_path, cloudwatch(client) if cloudwatch else client)

    return run


def _run_promote(argv: list[str], stack: Stack, clock: FakeClock, tmp_path: Path, cloudwatch: Any) -> Run:
    parser = argparse.ArgumentParser(prog="fnkit promote")
    promote_cli.add_arguments(parser)
    report_path = tmp_path / "report.json"
    settle = [] if "--settle-seconds" in argv else ["--settle-seconds", "0"]
    args = parser.parse_args([*argv, *settle, "--report", str(report_path)])
    lines: list[str] = []
    deps = Dependencies(
        lambda_client=stack.lam,
        cloudwatch=cloudwatch,
        clock=clock,
        sleep=clock.sleep,
        log=lines.append,
    )
    code = promote_cli.run(args, deps=deps)
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return Run(code, report, lines)


@pytest.fixture
def put_metrics(stack: Stack) -> Callable[..., None]:
    """`put_metrics(version, at, invocations, errors=0, durations=())` into moto's CloudWatch."""

    def put(
        version: str, at: datetime, invocations: int, errors: int = 0, durations: tuple[float, ...] = ()
    ) -> None:
        put_version_metrics(stack.cw, version, at, invocations, errors, durations)

    return put


@pytest.fixture
def steady_traffic(stack: Stack, clock: FakeClock) -> Callable[[dict[str, tuple[int, int]]], None]:
    """`steady_traffic({version: (invocations, errors)})`: that much traffic arrives after every sleep."""

    def install(per_poll: dict[str, tuple[int, int]]) -> None:
        clock.on_sleep.append(traffic(stack.cw, per_poll))

    return install


@pytest.fixture
def steady_emf(stack: Stack, clock: FakeClock) -> Callable[[dict[str, dict[str, Any]]], None]:
    """`steady_emf({version: put_emf keywords})`: those EMF numbers arrive after every sleep."""

    def install(per_poll: dict[str, dict[str, Any]]) -> None:
        clock.on_sleep.append(emf_traffic(stack.cw, per_poll))

    return install


@pytest.fixture
def steady_server_errors(stack: Stack, clock: FakeClock) -> Callable[[dict[str, int]], None]:
    """`steady_server_errors({version: count})`: that many EMF ServerErrors after every sleep (5xx
    answers the handler returned: Lambda counted those invocations as successes)."""

    def install(per_poll: dict[str, int]) -> None:
        clock.on_sleep.append(server_error_traffic(stack.cw, per_poll))

    return install
