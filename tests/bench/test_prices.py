"""The price table: the shipped default and a user's override (--prices FILE)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fnkit_ops.bench.costmodel import Workload, estimate
from fnkit_ops.bench.exceptions import PriceTableError
from fnkit_ops.bench.prices import DEFAULT_PRICES_FILE, load_prices


def test_default_table_has_both_lambda_architectures() -> None:
    table = load_prices()
    assert set(table.architectures) == {"x86_64", "arm64"}
    data = json.loads(DEFAULT_PRICES_FILE.read_text(encoding="utf-8"))
    for arch, entry in data["architectures"].items():
        assert table.architectures[arch].gb_second_usd == entry["gb_second_usd"]
        assert table.architectures[arch].request_usd == entry["request_usd"]
    # arm64 is cheaper per GB-second than x86_64 on Lambda's published prices
    assert table.architectures["arm64"].gb_second_usd < table.architectures["x86_64"].gb_second_usd


def test_json_override_changes_the_estimated_cost(write_file: Callable[[str, str], Path]) -> None:
    # GIVEN a table with twice the default GB-second price
    default = load_prices()
    doubled = {
        "source": "doubled",
        "architectures": {
            arch: {"gb_second_usd": p.gb_second_usd * 2, "request_usd": 0.0}
            for arch, p in default.architectures.items()
        },
    }
    # WHEN it is loaded and used
    table = load_prices(write_file("prices.json", json.dumps(doubled)))
    workload = Workload({1: 10.0}, cold_ms=100.0, peak_memory_mb=10.0)
    ours = estimate(workload, 1024, "x86_64", table, cold_fraction=0.0)
    theirs = estimate(workload, 1024, "x86_64", default, cold_fraction=0.0)
    # THEN the duration cost doubles (request price zeroed)
    duration_cost = theirs.cost_per_million_usd - default.architectures["x86_64"].request_usd * 1e6
    assert table.source == "doubled"
    assert ours.cost_per_million_usd == pytest.approx(2 * duration_cost)


def test_toml_override_with_one_architecture(write_file: Callable[[str, str], Path]) -> None:
    text = (
        'source = "mine"\nbilling_granularity_ms = 100\n'
        "[architectures.arm64]\ngb_second_usd = 0.00001\nrequest_usd = 0.0000002\nrelative_latency = 1.3\n"
    )
    table = load_prices(write_file("prices.toml", text))
    assert list(table.architectures) == ["arm64"]
    assert table.billing_granularity_ms == 100
    assert table.architectures["arm64"].relative_latency == 1.3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("{not json", "not valid", id="not json"),
        pytest.param("[]", "not a table", id="not an object"),
        pytest.param('{"source": "x"}', "architectures", id="no architectures"),
        pytest.param(
            '{"architectures": {"x86_64": {"request_usd": 0}}}', "gb_second_usd", id="missing price"
        ),
        pytest.param(
            '{"architectures": {"x86_64": {"gb_second_usd": -1, "request_usd": 0}}}',
            "negative",
            id="negative",
        ),
        pytest.param('{"architectures": {}}', "no architecture", id="empty"),
    ],
)
def test_bad_tables_are_clear_errors(
    write_file: Callable[[str, str], Path], content: str, message: str
) -> None:
    path = write_file("prices.json", content)
    with pytest.raises(PriceTableError, match=message):
        load_prices(path)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PriceTableError, match="cannot read"):
        load_prices(tmp_path / "absent.json")
