"""The registry's `repair` table: whether a failing int8 candidate is repaired, and how far.

    [models.NAME.repair]
    enabled = true                # default; `fnkit build --no-repair` turns it off for one build
    max_excluded_fraction = 0.2   # at most this share of the quantizable nodes stays in float

The search (`fnkit_build.repair`) keeps at least one node in float when it runs at all, so a model
with fewer than 1 / max_excluded_fraction quantizable nodes may still exclude one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fnkit_build.registry import _Entry

REPAIR_KEYS = ("enabled", "max_excluded_fraction")
DEFAULT_MAX_EXCLUDED_FRACTION = 0.2


@dataclass(frozen=True)
class RepairSpec:
    enabled: bool = True
    max_excluded_fraction: float = DEFAULT_MAX_EXCLUDED_FRACTION
    """Bound of the search: nodes kept in float / quantizable nodes."""

    def max_excluded(self, quantizable: int) -> int:
        """How many of `quantizable` nodes the search may keep in float (at least 1 when there are any)."""
        if quantizable <= 0:
            return 0
        return max(1, math.floor(self.max_excluded_fraction * quantizable + 1e-9))


def repair_spec(entry: _Entry) -> RepairSpec:
    """The model's `repair` table, validated (unknown keys and out-of-range values are errors)."""
    entry.get("repair", dict, {})
    entry.keys("repair", REPAIR_KEYS)
    return RepairSpec(
        enabled=entry.get("repair.enabled", bool, True),
        max_excluded_fraction=entry.number(
            "repair.max_excluded_fraction", 0.01, 1, DEFAULT_MAX_EXCLUDED_FRACTION
        ),
    )
