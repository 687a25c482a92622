"""A synthetic evaluator for testing and benchmarking the search machinery itself.

``--evaluator synthetic[:SECONDS]`` scores an architecture with a deterministic function of its
hash (accuracy in [0.4, 0.9), latency in [1, 10) ms) after sleeping ``SECONDS`` (default 0) to
stand in for the cost of a real evaluation. Nothing is trained or measured, so storage,
workers, strategies and crash recovery can be exercised at the speed of a lookup table. The
numbers mean nothing about any network.
"""

from __future__ import annotations

import time

from nas.errors import OptionError
from nas.evaluators.base import Evaluation, Evaluator
from nas.spaces.base import Arch
from nas.storage import keys


def parse_seconds(spec: str) -> float:
    """The delay of ``synthetic[:SECONDS]``."""
    _, _, raw = spec.partition(":")
    try:
        seconds = float(raw) if raw else 0.0
    except ValueError:
        seconds = -1.0
    if not 0.0 <= seconds <= 3600.0:
        raise OptionError(
            f"--evaluator synthetic:SECONDS needs 0 <= SECONDS <= 3600, got {spec!r}"
        )
    return seconds


class SyntheticEvaluator(Evaluator):
    name = "synthetic"

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds

    def evaluate(self, arch: Arch, arch_hash: str) -> Evaluation:
        t0 = time.perf_counter()
        if self.seconds:
            time.sleep(self.seconds)
        a = int(arch_hash[:8], 16) / 0xFFFFFFFF
        b = int(arch_hash[8:16], 16) / 0xFFFFFFFF
        return Evaluation(
            accuracy=0.4 + 0.5 * a,
            latency_ms=1.0 + 9.0 * b,
            attrs={keys.EVAL_SECONDS: time.perf_counter() - t0, keys.LATENCY_SOURCE: "synthetic"},
        )
