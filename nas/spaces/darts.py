"""The DARTS cell space (Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search",
ICLR 2019).

Two cell types, ``normal`` and ``reduce`` (the reduction cell halves the resolution). Each cell
has two inputs (nodes 0 and 1: the outputs of the two previous cells) and ``nodes``
intermediate nodes (2, 3, ...). Intermediate node ``i`` adds two operations applied to two
*different* earlier nodes; the cell outputs the concatenation of its intermediate nodes.

Labels per cell type ``t`` and node ``i``:

- ``t.node{i}.inputs``: the unordered pair of earlier nodes, written ``"a,b"`` with ``a < b``.
  Choosing the pair as one value makes the representation canonical: swapping a node's two
  (input, operation) pairs gives the same cell and the same label values, so equal cells hash
  equal, and every combination of values is a valid cell.
- ``t.node{i}.op0`` / ``t.node{i}.op1``: the operation on input ``a`` / on input ``b``.

The one-line form is genotype-like:
``normal: sep_conv_3x3~0 sep_conv_3x3~1 + skip_connect~0 sep_conv_3x3~1 + ... | reduce: ...``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nas.errors import ArchitectureError
from nas.limits import MAX_DEPTH
from nas.spaces.base import Arch, CellSpace, Choice, Value
from nas.spaces.chain import LatencyInputModel
from nas.spaces.fields import Channels, Depth, PositiveInt, Resolution, option_list

DARTS_OPS = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
CELL_TYPES = ("normal", "reduce")


class DartsSpaceModel(BaseModel):
    """File format of a DARTS cell space (see ``search_spaces/darts.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: PositiveInt = 1
    kind: Literal["darts"]
    description: str = ""
    input_channels: Channels = 3
    train_resolution: Resolution
    latency_input: LatencyInputModel | None = Field(
        default=None,
        description="latency shape; by default the scoring shape (1, channels, r, r)",
    )
    nodes: Annotated[int, Field(ge=1, le=6)] = 4
    operations: list[str] = option_list()
    init_channels: Channels = 16
    layers: Annotated[int, Field(ge=3, le=MAX_DEPTH)] = 8
    stem_multiplier: Depth = 3

    @field_validator("operations")
    @classmethod
    def _known_ops(cls, v: list[str]) -> list[str]:
        bad = [op for op in v if op not in DARTS_OPS]
        if bad or len(set(v)) != len(v):
            raise ValueError(f"operations must be distinct names from {list(DARTS_OPS)}, got {v}")
        return v

    @model_validator(mode="after")
    def _check_channels(self) -> DartsSpaceModel:
        if self.latency_input is not None and self.latency_input.channels != self.input_channels:
            raise ValueError(
                f"latency_input.channels ({self.latency_input.channels}) must equal "
                f"input_channels ({self.input_channels})"
            )
        return self


def _pair(a: int, b: int) -> str:
    return f"{a},{b}"


class DartsSpace(CellSpace):
    """A DARTS cell space loaded from a validated :class:`DartsSpaceModel`."""

    kind = "darts"

    def __init__(self, model: DartsSpaceModel) -> None:
        self._load_common(model)
        self.operations = tuple(model.operations)
        self.node_ids = tuple(range(2, 2 + model.nodes))
        choices: list[Choice] = []
        for cell in CELL_TYPES:
            for i in self.node_ids:
                pairs = tuple(_pair(a, b) for a, b in itertools.combinations(range(i), 2))
                choices.append(Choice(f"{cell}.node{i}.inputs", pairs))
                choices.append(Choice(f"{cell}.node{i}.op0", self.operations))
                choices.append(Choice(f"{cell}.node{i}.op1", self.operations))
        self.choices = tuple(choices)

    def active_labels(self, arch: Mapping[str, Value]) -> list[str]:
        return [c.label for c in self.choices]

    def cell(self, arch: Mapping[str, Value], cell: str) -> list[tuple[int, str, int, str]]:
        """Per intermediate node of ``cell``: ``(input a, op on a, input b, op on b)``."""
        canon = self.canonical(arch)
        out = []
        for i in self.node_ids:
            a, b = (int(v) for v in str(canon[f"{cell}.node{i}.inputs"]).split(","))
            out.append(
                (a, str(canon[f"{cell}.node{i}.op0"]), b, str(canon[f"{cell}.node{i}.op1"]))
            )
        return out

    def describe(self, arch: Mapping[str, Value]) -> str:
        parts = []
        for cell in CELL_TYPES:
            nodes = [f"{oa}~{a} {ob}~{b}" for a, oa, b, ob in self.cell(arch, cell)]
            parts.append(f"{cell}: " + " + ".join(nodes))
        return " | ".join(parts)

    def parse_key(self, text: str) -> Arch | None:
        return self.parse(text)

    def parse(self, text: str) -> Arch:
        """Inverse of :meth:`describe` (the two inputs of a node may come in either order).

        Raises:
            ArchitectureError: not a cell description of this space.
        """
        arch: dict[str, Value] = {}
        cells = [p.strip() for p in text.split("|")]
        names = [c.partition(":")[0].strip() for c in cells]
        if sorted(names) != sorted(CELL_TYPES):
            raise ArchitectureError(f"expected 'normal: ... | reduce: ...', got {text!r}")
        for part in cells:
            cell, _, body = part.partition(":")
            nodes = [n.split() for n in body.split("+")]
            if len(nodes) != len(self.node_ids):
                raise ArchitectureError(
                    f"{cell.strip()} needs {len(self.node_ids)} nodes: {text!r}"
                )
            for i, tokens in zip(self.node_ids, nodes, strict=True):
                edges = []
                for token in tokens:
                    op, _, src = token.partition("~")
                    if not src.isdigit():
                        raise ArchitectureError(f"bad edge {token!r} in {text!r}")
                    edges.append((int(src), op))
                if len(edges) != 2 or edges[0][0] == edges[1][0]:
                    raise ArchitectureError(f"node {i} needs two different inputs: {text!r}")
                (a, oa), (b, ob) = sorted(edges)
                prefix = f"{cell.strip()}.node{i}"
                arch.update({f"{prefix}.inputs": _pair(a, b), f"{prefix}.op0": oa})
                arch[f"{prefix}.op1"] = ob
        return self.canonical(arch)

    def size(self) -> int:
        n_ops = len(self.operations)
        per_cell = math.prod(math.comb(i, 2) * n_ops**2 for i in self.node_ids)
        return per_cell ** len(CELL_TYPES)

    # ---- differentiable search (DARTS) ---------------------------------------------------
    def mixed_edges(self) -> list[tuple[str, tuple[str, ...]]]:
        """Every candidate edge ``t.node{i}.from{j}`` and the operations its mixed op holds."""
        return [
            (f"{cell}.node{i}.from{j}", self.operations)
            for cell in CELL_TYPES
            for i in self.node_ids
            for j in range(i)
        ]

    def derive(self, weights: Mapping[str, Sequence[float]]) -> Arch:
        """DARTS's discrete cell: per node the two inputs whose strongest non-``none`` operation
        weighs most, each with that operation (Liu et al., Sec. 2.4)."""
        arch: dict[str, Value] = {}
        ops = self.operations
        real = [k for k, op in enumerate(ops) if op != "none"] or list(range(len(ops)))
        for cell in CELL_TYPES:
            for i in self.node_ids:
                best = []
                for j in range(i):
                    w = weights[f"{cell}.node{i}.from{j}"]
                    k = max(real, key=lambda k: w[k])
                    best.append((w[k], j, ops[k]))
                (_, a, oa), (_, b, ob) = sorted(sorted(best, reverse=True)[:2], key=lambda t: t[1])
                arch[f"{cell}.node{i}.inputs"] = _pair(a, b)
                arch[f"{cell}.node{i}.op0"] = oa
                arch[f"{cell}.node{i}.op1"] = ob
        return self.canonical(arch)
