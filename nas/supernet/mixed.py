"""The mixed operation of cell supernets, and the interface DARTS needs from a supernet.

A :class:`MixedOp` holds the weights of every candidate operation of one edge. It runs either
one operation (single-path one-shot training and scoring, Guo et al. 2020) or the
softmax-weighted sum of all of them (DARTS, Liu et al. 2019, Eq. 2).
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Mapping

import torch
from torch import nn

from nas.supernet.base import Supernet


class Zero(nn.Module):
    """The ``none`` operation: zeros of the output shape (strided like the edge's other ops)."""

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x[:, :, :: self.stride, :: self.stride])


class MixedOp(nn.Module):
    """Every candidate operation of one edge, by name, in the space's order."""

    def __init__(self, ops: Mapping[str, nn.Module]) -> None:
        super().__init__()
        self.names = tuple(ops)
        self.ops = nn.ModuleDict(dict(ops))

    def forward(self, x: torch.Tensor, op: str) -> torch.Tensor:
        return self.ops[op](x)

    def forward_weighted(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``sum_k weights[k] * op_k(x)``; ``none`` adds nothing and is skipped."""
        out: torch.Tensor | None = None
        for k, name in enumerate(self.names):
            if name == "none":
                continue
            y = weights[k] * self.ops[name](x)
            out = y if out is None else out + y
        return out if out is not None else self.ops["none"](x)

    def extract(self, op: str) -> nn.Module:
        """A copy of operation ``op`` (weights and BatchNorm statistics)."""
        return copy.deepcopy(self.ops[op])


class CellSupernet(Supernet):
    """A supernet whose edges are :class:`MixedOp` s: what the DARTS strategy drives.

    The edge keys are the space's ``mixed_edges()`` keys; several cells may share one key
    (DARTS shares a cell type's architecture weights across all its cells).
    """

    @abstractmethod
    def forward_weighted(
        self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """Logits of the continuous relaxation; ``weights[key]`` has one entry per op."""

    @abstractmethod
    def mixed_ops(self) -> list[tuple[str, MixedOp]]:
        """Every mixed op instance with its edge key (for latency tables)."""
