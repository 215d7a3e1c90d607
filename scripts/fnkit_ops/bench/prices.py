"""Lambda's price table: the shipped default (`prices.json`) or a user's file (`--prices FILE`)."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnkit_ops.bench.exceptions import PriceTableError

DEFAULT_PRICES_FILE = Path(__file__).with_name("prices.json")


@dataclass(frozen=True)
class ArchPrice:
    """What one architecture costs, and how fast it is assumed to be relative to the bench machine."""

    gb_second_usd: float
    request_usd: float
    relative_latency: float = 1.0

    def __post_init__(self) -> None:
        for name in ("gb_second_usd", "request_usd"):
            if getattr(self, name) < 0:
                raise PriceTableError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.relative_latency <= 0:
            raise PriceTableError(f"relative_latency must be positive, got {self.relative_latency}")


@dataclass(frozen=True)
class PriceTable:
    source: str
    region: str
    architectures: dict[str, ArchPrice]
    billing_granularity_ms: int = 1
    snapstart_cache_gb_second_usd: float = 0.0
    """SnapStart (Python): caching a published version's snapshot, per GB of memory per second."""
    snapstart_restore_gb_usd: float = 0.0
    """SnapStart (Python): each restore of an environment, per GB of memory."""

    def __post_init__(self) -> None:
        if not self.architectures:
            raise PriceTableError("price table lists no architecture")
        if self.billing_granularity_ms < 1:
            raise PriceTableError("billing_granularity_ms must be at least 1")
        if self.snapstart_cache_gb_second_usd < 0 or self.snapstart_restore_gb_usd < 0:
            raise PriceTableError("SnapStart prices must not be negative")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "region": self.region,
            "billing_granularity_ms": self.billing_granularity_ms,
            "snapstart": {
                "cache_gb_second_usd": self.snapstart_cache_gb_second_usd,
                "restore_gb_usd": self.snapstart_restore_gb_usd,
            },
            "architectures": {
                arch: {
                    "gb_second_usd": p.gb_second_usd,
                    "request_usd": p.request_usd,
                    "relative_latency": p.relative_latency,
                }
                for arch, p in self.architectures.items()
            },
        }


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PriceTableError(f"cannot read price table {path}: {exc.strerror or exc}") from exc
    try:
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise PriceTableError(f"price table {path} is not valid {path.suffix or 'JSON'}: {exc}") from exc
    if not isinstance(data, dict):
        raise PriceTableError(f"price table {path} is not a table/object")
    return data


def _arch_price(path: Path, arch: str, entry: Any) -> ArchPrice:
    if not isinstance(entry, dict):
        raise PriceTableError(f"price table {path}: architectures.{arch} is not a table")
    try:
        return ArchPrice(
            gb_second_usd=float(entry["gb_second_usd"]),
            request_usd=float(entry["request_usd"]),
            relative_latency=float(entry.get("relative_latency", 1.0)),
        )
    except KeyError as exc:
        raise PriceTableError(f"price table {path}: architectures.{arch} lacks {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise PriceTableError(f"price table {path}: architectures.{arch}: {exc}") from exc


def load_prices(path: Path | None = None) -> PriceTable:
    """Read a price table (JSON, or TOML by suffix); None reads the shipped us-east-1 table."""
    source_path = path or DEFAULT_PRICES_FILE
    data = _read(source_path)
    archs = data.get("architectures")
    if not isinstance(archs, dict):
        raise PriceTableError(f"price table {source_path} lacks an 'architectures' table")
    return PriceTable(
        source=str(data.get("source", source_path)),
        region=str(data.get("region", "")),
        architectures={arch: _arch_price(source_path, arch, e) for arch, e in archs.items()},
        billing_granularity_ms=int(data.get("billing_granularity_ms", 1)),
        **_snapstart(source_path, data.get("snapstart", {})),
    )


def _snapstart(path: Path, entry: Any) -> dict[str, float]:
    """The optional `snapstart` table: cache and restore prices (0 when absent)."""
    if not isinstance(entry, dict):
        raise PriceTableError(f"price table {path}: snapstart is not a table")
    try:
        return {
            "snapstart_cache_gb_second_usd": float(entry.get("cache_gb_second_usd", 0.0)),
            "snapstart_restore_gb_usd": float(entry.get("restore_gb_usd", 0.0)),
        }
    except (TypeError, ValueError) as exc:
        raise PriceTableError(f"price table {path}: snapstart: {exc}") from exc
