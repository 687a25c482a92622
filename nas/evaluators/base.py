"""The evaluator plug-in interface: score one frozen architecture.

An evaluator returns validation accuracy, latency and any other JSON-friendly metrics to store
with the trial. The supernet evaluator trains nothing per candidate (inherited weights); a
tabular evaluator looks results up.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from nas.spaces.base import Arch

# How a candidate's latency is obtained (``nas search --latency``; nas.evaluators.latency).
LATENCY_MODES = ("measured", "predicted", "hybrid")


class CandidateError(Exception):
    """One candidate could not be evaluated; its trial fails and the search goes on."""


@dataclass(frozen=True)
class Evaluation:
    accuracy: float  # validation top-1, a fraction in [0, 1]; zero-cost: a score in (0, 1)
    latency_ms: float
    attrs: dict[str, Any] = field(default_factory=dict)  # stored as trial user attributes


class Evaluator(ABC):
    name: str

    @abstractmethod
    def evaluate(self, arch: Arch, arch_hash: str) -> Evaluation:
        """Score ``arch`` (canonical); raise :class:`CandidateError` to fail just this one."""

    def observe(self, accuracy: float, latency_ms: float) -> None:  # noqa: B027 - optional hook
        """Told every finished candidate's result (resumed ones too); ignored by default."""
