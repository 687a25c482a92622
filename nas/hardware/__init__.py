"""Hardware targets, the timing protocol, fingerprints and cost metrics."""

from __future__ import annotations

from nas.hardware.target import Target, create_target, register_target, target_names
from nas.hardware.timing import LatencyStats, TimingConfig

__all__ = [
    "LatencyStats",
    "Target",
    "TimingConfig",
    "create_target",
    "register_target",
    "target_names",
]
