"""Targets with a fake clock: latency computed from a module's size, never timed.

Real timings of the tiny test networks differ by less than the noise of a shared machine, so
a test that ranks them fails one run in N. Here a module "takes" 1 ms per 1,000 parameters
plus ``CALL_MS`` a call (additive over layers, as the lookup table assumes of real latency):
deterministic, and the networks differ by far more than any noise. A
``busy`` target adds a seeded random delay to every measurement, as other jobs on the machine
would: a table profiled that way does not describe the networks.
"""

from __future__ import annotations

import random

import pytest
from torch import nn

from nas.hardware import LatencyStats, Target
from nas.hardware import target as registry
from nas.hardware.cost import count_params

CALL_MS = 0.05  # what one call costs besides its arithmetic (dispatch)
BUSY_MS = 20.0  # the mean delay other jobs add to a measurement on a busy machine


def stats(ms: float) -> LatencyStats:
    return LatencyStats(ms, ms, 0.0, ms, ms, ms, 10, 0, 1, False)


class SizeTarget(Target):
    """Latency from the parameter count; ``busy``: plus a seeded random delay."""

    name = "fake"

    def __init__(self, *, busy: bool = False, seed: int = 0, **_options: object) -> None:
        self.busy, self.rng, self.calls = busy, random.Random(seed), 0

    def fingerprint(self) -> dict[str, str | int]:
        return {"target": self.name, "clock": "parameters"}

    def measure(self, module: nn.Module, input_shape: tuple[int, ...]) -> LatencyStats:
        self.calls += 1
        ms = CALL_MS + count_params(module) / 1e3
        if self.busy:
            ms += self.rng.expovariate(1 / BUSY_MS)
        return stats(ms)


def register(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--target fake`` and ``--target fake-busy`` for this test (same fingerprint)."""
    registry.target_names()  # the built-ins first, so they do not replace these later
    monkeypatch.setitem(registry._TARGETS, "fake", lambda **o: SizeTarget(**o))
    monkeypatch.setitem(registry._TARGETS, "fake-busy", lambda **o: SizeTarget(busy=True, **o))
