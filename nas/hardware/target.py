"""The hardware-target plug-in interface and its registry.

A target measures the latency of a standalone module at an input shape and says what it ran
on (its *fingerprint*: device, runtime, versions, threads). Measurements are cached by
(architecture hash, fingerprint id, input shape), so the fingerprint must change whenever the
numbers could.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

from nas.errors import OptionError
from nas.hardware.timing import LatencyStats

if TYPE_CHECKING:  # the registry imports no torch: `nas serve` checks names without it
    from torch import nn

Shape = tuple[int, ...]


class Target(ABC):
    """Somewhere a model can run and be timed."""

    name: str

    @abstractmethod
    def fingerprint(self) -> dict[str, str | int]:
        """What the measurements ran on: JSON-friendly and stable for one setup."""

    @abstractmethod
    def measure(self, module: nn.Module, input_shape: Shape) -> LatencyStats:
        """Latency of ``module`` (in eval mode) on one input of ``input_shape``."""

    def fingerprint_id(self) -> str:
        """Short hash of :meth:`fingerprint`: the cache key part for this target."""
        blob = json.dumps(self.fingerprint(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_TARGETS: dict[str, Callable[..., Target]] = {}


def register_target(name: str, factory: Callable[..., Target]) -> None:
    """Make ``--target name`` build a target with ``factory(**options)``."""
    _TARGETS[name] = factory


def target_names() -> list[str]:
    from nas.hardware import builtins  # noqa: F401

    return sorted(_TARGETS)


def create_target(spec: str, **options: object) -> Target:
    """Build a target from ``--target``: a name, or ``name:ARG`` (e.g. ``remote:HOST:PORT``).

    Raises:
        OptionError: unknown target name.
    """
    names = target_names()
    name, _, arg = spec.partition(":")
    if name not in _TARGETS:
        raise OptionError(f"unknown target {spec!r}; known targets: {', '.join(names)}")
    if arg:
        if name != "remote":
            raise OptionError(f"target {name!r} takes no argument, got {spec!r}")
        options = {**options, "address": arg}
    return _TARGETS[name](**options)
