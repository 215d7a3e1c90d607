"""The CloudWatch dashboard: valid JSON, and for every model the four views the issue asks for."""

from __future__ import annotations

import json
import re
from typing import Any


def _body(source: Any) -> dict[str, Any]:
    (dashboard,) = source.active("AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    # Fn::Sub placeholders become their names, so the result parses as the JSON CloudWatch will get
    body: dict[str, Any] = json.loads(re.sub(r"\$\{([^}!]+)\}", r"\1", text))
    return body


def test_dashboard_shows_every_model_by_version(source: Any, function_ids: dict[str, str]) -> None:
    # GIVEN the dashboard's metric widgets
    widgets = [w["properties"] for w in _body(source)["widgets"] if w["type"] == "metric"]
    for model, fn in function_ids.items():
        mine = [w for w in widgets if w["title"].startswith(f"{model}:")]
        text = json.dumps(mine)
        # THEN the model has invocations, errors, latency percentiles and cold starts
        titles = " ".join(w["title"] for w in mine)
        for view in ("invocations", "errors", "latency percentiles", "cold starts"):
            assert view in titles, f"{model}: no {view} widget"
        # AND they read this function's metrics split by version, with p50 and p99 latency
        assert fn in text and f'model=\\"{model}\\"' in text
        assert "ExecutedVersion" in text and "function_version" in text
        assert "'p50'" in text and "'p99'" in text
