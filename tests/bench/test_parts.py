"""Small parts: percentiles, the EMF reader, request batches."""

from __future__ import annotations

import json

import pytest
from fnkit_ops.bench.cold import model_load_ms
from fnkit_ops.bench.exceptions import BenchError
from fnkit_ops.bench.stats import LatencyStats, percentile


def test_nearest_rank_percentiles() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert LatencyStats.of([1.0, 2.0, 3.0, 4.0]).p99_ms == 4.0


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(BenchError):
        percentile([], 50)


def test_model_load_time_is_read_from_emf_output() -> None:
    # GIVEN function output with a log line and an EMF document from powertools
    emf = {"_aws": {"CloudWatchMetrics": []}, "ModelLoadTime": [42.5], "ColdStart": [1.0]}
    stdout = "\n".join(['{"level": "INFO", "message": "hello"}', "not json", json.dumps(emf)])
    # WHEN / THEN the metric's value is found
    assert model_load_ms(stdout) == 42.5
    assert model_load_ms('{"level": "INFO"}') is None
