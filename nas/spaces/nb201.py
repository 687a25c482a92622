"""The NAS-Bench-201 cell space (Dong & Yang, "NAS-Bench-201", ICLR 2020).

A cell is a DAG of 4 nodes; each of the 6 edges ``j -> i`` (j < i) carries one operation.
Labels are ``edge{i}{j}`` (to node i from node j). The canonical string is the benchmark's own
format, ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, so results join with published tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nas.errors import ArchitectureError
from nas.spaces.base import Arch, CellSpace, Choice, Value
from nas.spaces.chain import LatencyInputModel
from nas.spaces.fields import Channels, Depth, PositiveInt, Resolution, StageCount, option_list

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


class Nb201SpaceModel(BaseModel):
    """File format of a NAS-Bench-201-style cell space (see ``search_spaces/nb201.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: PositiveInt = 1
    kind: Literal["nb201"]
    description: str = ""
    input_channels: Channels = 3
    train_resolution: Resolution
    latency_input: LatencyInputModel | None = Field(
        default=None,
        description="latency shape; by default the scoring shape (1, channels, r, r)",
    )
    nodes: Literal[4] = 4
    operations: list[str] = option_list()
    stem_channels: Channels = 16
    cells_per_stage: Depth = 5
    stages: StageCount = 3

    @field_validator("operations")
    @classmethod
    def _known_ops(cls, v: list[str]) -> list[str]:
        bad = [op for op in v if op not in NB201_OPS]
        if bad or len(set(v)) != len(v):
            raise ValueError(f"operations must be distinct names from {list(NB201_OPS)}, got {v}")
        return v


class Nb201Space(CellSpace):
    kind = "nb201"

    def __init__(self, model: Nb201SpaceModel) -> None:
        self._load_common(model)
        self.edges = tuple((i, j) for i in range(1, model.nodes) for j in range(i))
        ops = tuple(model.operations)
        self.choices = tuple(Choice(f"edge{i}{j}", ops) for i, j in self.edges)

    def active_labels(self, arch: Mapping[str, Value]) -> list[str]:
        return [c.label for c in self.choices]

    def describe(self, arch: Mapping[str, Value]) -> str:
        """The benchmark string, e.g. ``|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|``."""
        canon = self.canonical(arch)
        nodes = []
        for i in range(1, self.model.nodes):
            nodes.append("|" + "|".join(f"{canon[f'edge{i}{j}']}~{j}" for j in range(i)) + "|")
        return "+".join(nodes)

    def parse_key(self, text: str) -> Arch | None:
        return self.parse(text)

    def parse(self, text: str) -> Arch:
        """Inverse of :meth:`describe`.

        Raises:
            ArchitectureError: not a cell string of this space.
        """
        parts = text.strip().split("+")
        if len(parts) != self.model.nodes - 1:
            raise ArchitectureError(f"not a NAS-Bench-201 cell string: {text!r}")
        arch: dict[str, Value] = {}
        for i, part in enumerate(parts, start=1):
            tokens = [t for t in part.strip("|").split("|") if t]
            if len(tokens) != i:
                raise ArchitectureError(f"node {i} of {text!r} needs {i} edges, got {len(tokens)}")
            for token in tokens:
                op, _, src = token.partition("~")
                if not src.isdigit() or int(src) >= i:
                    raise ArchitectureError(f"bad edge {token!r} in {text!r}")
                arch[f"edge{i}{src}"] = op
        return self.canonical(arch)

    def size(self) -> int:
        return len(self.model.operations) ** len(self.edges)

    # ---- differentiable search (DARTS) ---------------------------------------------------
    def mixed_edges(self) -> list[tuple[str, tuple[str, ...]]]:
        """Every edge label and the operations its mixed op holds (one weight vector each)."""
        return [(c.label, tuple(str(o) for o in c.options)) for c in self.choices]

    def derive(self, weights: Mapping[str, Sequence[float]]) -> Arch:
        """The discrete cell: the strongest operation of every edge, ``none`` included, as
        NAS-Bench-201 derives DARTS cells (Dong & Yang, Sec. 5)."""
        arch: dict[str, Value] = {}
        for label, ops in self.mixed_edges():
            w = weights[label]
            arch[label] = ops[max(range(len(ops)), key=lambda k: w[k])]
        return self.canonical(arch)
