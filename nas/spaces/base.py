"""The search-space model: choices, architectures and their canonical form.

An *architecture* is a flat dict from choice label to value (``{"stage0.depth": 3, ...}``).
A :class:`Space` makes, validates, mutates and hashes architectures; every other part of the
tool (strategies, supernets, storage, exports, dashboards) speaks that one currency.
"""

from __future__ import annotations

import hashlib
import json
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nas.errors import ArchitectureError

Value = int | str
Arch = dict[str, Value]


@dataclass(frozen=True)
class Choice:
    """One decision of a space: a label and the values it may take, in file order."""

    label: str
    options: tuple[Value, ...]


@dataclass(frozen=True)
class LatencyInput:
    """The input shape at which latency is measured: ``(batch, channels, height, width)``."""

    batch: int
    channels: int
    height: int
    width: int

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.channels, self.height, self.width)

    @property
    def text(self) -> str:
        """``BxCxHxW``, the form ``--latency-input`` takes and ``nas show`` prints."""
        return "x".join(str(d) for d in self.shape)

    @classmethod
    def parse(cls, text: str) -> LatencyInput:
        """Read ``BxCxHxW`` (``1x3x224x224``).

        Raises:
            ArchitectureError: not four positive integers, or a size over the caps.
        """
        parts = text.lower().split("x")
        if len(parts) != 4 or not all(p.isdigit() and len(p) <= 6 for p in parts):
            raise ArchitectureError(
                f"input shape must be BxCxHxW with four positive integers, got {text[:40]!r}"
            )
        b, c, h, w = (int(p) for p in parts)
        if min(b, c, h, w) < 1 or b > MAX_BATCH or c > 4 or max(h, w) > MAX_SIDE:
            raise ArchitectureError(
                f"input shape {text!r} out of range: batch 1..{MAX_BATCH}, channels 1..4, "
                f"height and width 1..{MAX_SIDE}"
            )
        return cls(b, c, h, w)


MAX_BATCH = 1024  # latency is timed per batch: larger ones only cost memory
MAX_SIDE = 4096


class Space(ABC):
    """A search space: the set of architectures one supernet family can build.

    Subclasses define :attr:`choices` (every label a sampler may set) and
    :meth:`active_labels` (the labels that matter for a given architecture; for example a
    layer beyond a stage's depth does not). Everything else is shared.
    """

    name: str
    version: int
    kind: str
    digest: str  # hash of the validated space description: changes when the network would
    choices: tuple[Choice, ...]
    latency_input: LatencyInput
    input_channels: int
    train_resolution: int

    @abstractmethod
    def active_labels(self, arch: Mapping[str, Value]) -> list[str]:
        """Labels whose values shape the network described by ``arch``, in canonical order."""

    @abstractmethod
    def describe(self, arch: Mapping[str, Value]) -> str:
        """A readable one-line form of a canonical architecture."""

    def parse_key(self, text: str) -> Arch | None:
        """The architecture whose :meth:`describe` form is ``text``, for checking a table's keys;
        ``None`` where this space has no parser for its one-line form (nothing is checked).

        Raises:
            ArchitectureError: ``text`` is not an architecture of this space.
        """
        del text
        return None

    def _load_common(self, model: Any) -> None:
        """Fields every space file has (name, version, input and latency shapes) and the
        digest of the whole validated description (its free-text description excluded)."""
        self.model = model
        self.name = model.name
        self.version = model.version
        self.input_channels = model.input_channels
        self.train_resolution = model.train_resolution
        li = model.latency_input
        # One network, one input: unless the file (or --latency-input) says otherwise,
        # latency is measured at the shape candidates are scored at.
        self.latency_input = (
            LatencyInput(1, self.input_channels, self.train_resolution, self.train_resolution)
            if li is None
            else LatencyInput(li.batch, li.channels, li.height, li.width)
        )
        dump = model.model_dump(exclude={"description"})
        # A field added to a format after its spaces were hashed counts only where it is set,
        # so a file that does not use it keeps its digest (its studies, lookup tables, records).
        for key in getattr(model, "LATER_FIELDS", ()):
            if dump.get(key) == type(model).model_fields[key].default:
                del dump[key]
        blob = json.dumps(dump, sort_keys=True)
        self.digest = hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def scoring_input(self) -> LatencyInput:
        """The shape of one batch-1 input as candidates are trained and scored."""
        return LatencyInput(1, self.input_channels, self.train_resolution, self.train_resolution)

    def with_latency_input(self, shape: LatencyInput | None) -> Space:
        """This space with latency measured at ``shape`` (``None``: unchanged). The network
        (and so every architecture hash) stays the same; only where latency is taken moves."""
        if shape is None:
            return self
        if shape.channels != self.input_channels:
            raise ArchitectureError(
                f"--latency-input has {shape.channels} channels; space {self.name!r} takes "
                f"{self.input_channels}"
            )
        import copy

        other = copy.copy(self)
        other.latency_input = shape
        return other

    # ---- shared behaviour -------------------------------------------------------------
    def choice(self, label: str) -> Choice:
        for c in self.choices:
            if c.label == label:
                return c
        raise ArchitectureError(f"space {self.name!r} has no choice {label!r}")

    def canonical(self, arch: Mapping[str, Value]) -> Arch:
        """Validate ``arch`` and return its canonical form (only active labels, file order).

        Raises:
            ArchitectureError: unknown label, missing active label, or a value not allowed.
        """
        known = {c.label: c for c in self.choices}
        unknown = sorted(set(arch) - set(known))
        if unknown:
            raise ArchitectureError(
                f"architecture has labels not in space {self.name!r}: {', '.join(unknown)}"
            )
        out: Arch = {}
        for label in self.active_labels(arch):
            if label not in arch:
                raise ArchitectureError(f"architecture is missing choice {label!r}")
            value = arch[label]
            options = known[label].options
            if value not in options or isinstance(value, bool):
                raise ArchitectureError(
                    f"{label}={value!r} is not allowed in space {self.name!r}; "
                    f"expected one of {list(options)}"
                )
            out[label] = value
        return out

    def sample(self, rng: random.Random) -> Arch:
        """A uniformly random value for every choice, then canonicalised."""
        return self.canonical({c.label: rng.choice(c.options) for c in self.choices})

    def mutate(self, arch: Mapping[str, Value], rng: random.Random) -> Arch:
        """Change exactly one active choice of ``arch`` to another allowed value."""
        base = self.to_params(arch)
        labels = [lb for lb in self.active_labels(base) if len(self.choice(lb).options) > 1]
        if not labels:
            return self.canonical(base)
        label = rng.choice(labels)
        base[label] = rng.choice([v for v in self.choice(label).options if v != base[label]])
        return self.canonical(base)

    def neighbours(self, arch: Mapping[str, Value]) -> list[Arch]:
        """Every architecture one active choice away from ``arch``."""
        base = self.to_params(arch)
        out: list[Arch] = []
        for label in self.active_labels(base):
            for value in self.choice(label).options:
                if value != base[label]:
                    out.append(self.canonical({**base, label: value}))
        return out

    def anchors(self) -> list[Arch]:
        """Architectures a new sampler-driven search evaluates first: a space that knows its
        extremes returns its largest and smallest, so the front spans the space's whole
        accuracy/latency range from the start instead of wherever the first samples fell."""
        return []

    def to_params(self, arch: Mapping[str, Value]) -> Arch:
        """Full parameter dict for Optuna; inactive labels take their first option."""
        canon = self.canonical(arch)
        return {c.label: canon.get(c.label, arch.get(c.label, c.options[0])) for c in self.choices}

    def from_params(self, params: Mapping[str, Value]) -> Arch:
        """The canonical architecture behind a full Optuna parameter dict."""
        return self.canonical(params)

    def encode(self, arch: Mapping[str, Value]) -> str:
        """Canonical JSON: active labels only, sorted keys, no spaces."""
        return canonical_json(self.canonical(arch))

    def decode(self, text: str) -> Arch:
        """Parse and validate an architecture written by :meth:`encode`."""
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArchitectureError(f"architecture is not valid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise ArchitectureError("architecture JSON must be an object of label: value")
        return self.canonical(value)

    def hash(self, arch: Mapping[str, Value]) -> str:
        """Stable 16-hex-digit hash of an architecture *in this space* (see :func:`arch_hash`)."""
        return arch_hash(self.digest, self.canonical(arch))

    def size(self) -> int:
        """Number of distinct canonical architectures (enumerated; spaces are finite)."""
        return len({self.encode(a) for a in self._enumerate()})

    def _enumerate(self) -> Sequence[Arch]:
        import itertools

        labels = [c.label for c in self.choices]
        return [
            dict(zip(labels, vals, strict=True))
            for vals in itertools.product(*(c.options for c in self.choices))
        ]


def canonical_json(arch: Mapping[str, Value]) -> str:
    return json.dumps(dict(arch), sort_keys=True, separators=(",", ":"))


class CellSpace(Space):
    """A cell space (nb201, darts): every choice is an edge of a cell whose operation is one of
    a list, so a supernet can mix them (what DARTS searches over)."""

    @abstractmethod
    def mixed_edges(self) -> list[tuple[str, tuple[str, ...]]]:
        """Every edge key and the operations its mixed op holds (one weight vector each)."""

    @abstractmethod
    def derive(self, weights: Mapping[str, Sequence[float]]) -> Arch:
        """The discrete architecture that architecture weights (per edge key) stand for."""


def arch_hash(space_digest: str, arch: Mapping[str, Value]) -> str:
    """The one function that names an architecture: space digest + canonical JSON, SHA-256."""
    text = space_digest + "\n" + canonical_json(arch)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
