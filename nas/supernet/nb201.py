"""The NAS-Bench-201 network (Dong & Yang, ICLR 2020) as a supernet and as a static net.

Macro skeleton, as the benchmark's ``TinyNetwork``: a 3x3 conv stem, stages of N cells with
C, 2C, 4C channels, a residual reduction block between stages (ReLU-Conv-BN stride 2, then
ReLU-Conv-BN, plus an average-pooled 1x1 projection), then BN, ReLU, global pooling and a
linear classifier. In a cell, node ``i`` is the sum of its edges' operations on the earlier
nodes and the cell outputs node 3.

A static cell keeps only its non-``none`` edges. A node left without edges is zero, and an
operation on a zero node is *not* always zero (a ReLU-Conv-BN adds its BatchNorm shift), so
the static cell keeps such a node as explicit zeros: it computes exactly the supernet path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import torch
from torch import nn

from nas.spaces import Nb201Space
from nas.spaces.base import Value
from nas.supernet.mixed import CellSupernet, MixedOp, Zero


def relu_conv_bn(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ReLU(inplace=False),  # node tensors feed several edges: never modify them in place
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
    )


def make_op(name: str, channels: int) -> nn.Module:
    """One NAS-Bench-201 operation at ``channels`` in and out, stride 1."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return relu_conv_bn(channels, channels, 1, 1)
    if name == "nor_conv_3x3":
        return relu_conv_bn(channels, channels, 3, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 operation {name!r}")


class ResidualReduction(nn.Module):
    """The benchmark's ``ResNetBasicblock`` with stride 2 between stages."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = relu_conv_bn(c_in, c_out, 3, 2)
        self.conv_b = relu_conv_bn(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C_out, H/2, W/2)
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class _Ends(nn.Module):
    def __init__(self, space: Nb201Space, num_classes: int) -> None:
        super().__init__()
        c = space.model.stem_channels
        last = c * 2 ** (space.model.stages - 1)
        self.stem = nn.Sequential(
            nn.Conv2d(space.input_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        )
        self.lastact = nn.Sequential(nn.BatchNorm2d(last), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(last, num_classes)

    def end(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, h, w) -> (B, classes)
        return self.classifier(self.lastact(x).mean(dim=(2, 3)))


def _stage_channels(space: Nb201Space) -> list[int]:
    return [space.model.stem_channels * 2**s for s in range(space.model.stages)]


class Nb201Cell(nn.Module):
    """A static cell: only the chosen non-``none`` edges (``edges['edge{i}{j}']``)."""

    def __init__(self, edges: Mapping[str, nn.Module], nodes: int) -> None:
        super().__init__()
        self.nodes = nodes
        self.edges = nn.ModuleDict(dict(edges))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> same
        states = [x]
        for i in range(1, self.nodes):
            terms = [
                self.edges[f"edge{i}{j}"](states[j])
                for j in range(i)
                if f"edge{i}{j}" in self.edges
            ]
            states.append(sum(terms[1:], terms[0]) if terms else torch.zeros_like(x))
        return states[-1]


class Nb201MixedCell(nn.Module):
    """A cell with a :class:`MixedOp` on every edge."""

    def __init__(self, space: Nb201Space, channels: int) -> None:
        super().__init__()
        self.nodes = space.model.nodes
        self.edges = nn.ModuleDict(
            {
                c.label: MixedOp({str(op): make_op(str(op), channels) for op in c.options})
                for c in space.choices
            }
        )

    def edge(self, label: str) -> MixedOp:
        return cast(MixedOp, self.edges[label])

    def forward(self, x: torch.Tensor, arch: Mapping[str, Value]) -> torch.Tensor:
        states = [x]
        for i in range(1, self.nodes):
            terms = [
                self.edges[f"edge{i}{j}"](states[j], str(arch[f"edge{i}{j}"])) for j in range(i)
            ]
            states.append(sum(terms[1:], terms[0]))
        return states[-1]

    def forward_weighted(
        self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        states = [x]
        for i in range(1, self.nodes):
            terms = [
                self.edge(f"edge{i}{j}").forward_weighted(states[j], weights[f"edge{i}{j}"])
                for j in range(i)
            ]
            states.append(sum(terms[1:], terms[0]))
        return states[-1]

    def extract(self, arch: Mapping[str, Value]) -> Nb201Cell:
        edges = {
            label: self.edge(label).extract(str(arch[label]))
            for label in self.edges
            if arch[label] != "none"
        }
        return Nb201Cell(edges, self.nodes)


class Nb201Net(nn.Module):
    """A static NAS-Bench-201 network."""

    def __init__(self, ends: _Ends, body: list[nn.Module]) -> None:
        super().__init__()
        self.ends = ends
        self.body = nn.Sequential(*body)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ends.end(self.body(self.ends.stem(x)))


def build_nb201_net(space: Nb201Space, arch: Mapping[str, Value], num_classes: int) -> Nb201Net:
    """A freshly initialised static network for ``arch``."""
    body: list[nn.Module] = []
    channels = _stage_channels(space)
    for s, c in enumerate(channels):
        if s > 0:
            body.append(ResidualReduction(channels[s - 1], c))
        for _ in range(space.model.cells_per_stage):
            edges = {
                label: make_op(str(arch[label]), c)
                for label in (ch.label for ch in space.choices)
                if arch[label] != "none"
            }
            body.append(Nb201Cell(edges, space.model.nodes))
    return Nb201Net(_Ends(space, num_classes), body)


class Nb201Supernet(CellSupernet):
    """Weight-sharing NAS-Bench-201 network: one mixed op per edge of every cell."""

    def __init__(self, space: Nb201Space, num_classes: int) -> None:
        super().__init__(space, num_classes)
        self.nb201 = space
        self.ends = _Ends(space, num_classes)
        body: list[nn.Module] = []
        channels = _stage_channels(space)
        for s, c in enumerate(channels):
            if s > 0:
                body.append(ResidualReduction(channels[s - 1], c))
            body.extend(Nb201MixedCell(space, c) for _ in range(space.model.cells_per_stage))
        self.body = nn.ModuleList(body)

    def forward(self, x: torch.Tensor, arch: Mapping[str, Value]) -> torch.Tensor:
        h = self.ends.stem(x)
        for m in self.body:
            h = m(h, arch) if isinstance(m, Nb201MixedCell) else m(h)
        return self.ends.end(h)

    def forward_weighted(
        self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        h = self.ends.stem(x)
        for m in self.body:
            h = m.forward_weighted(h, weights) if isinstance(m, Nb201MixedCell) else m(h)
        return self.ends.end(h)

    def mixed_ops(self) -> list[tuple[str, MixedOp]]:
        return [
            (label, m.edge(label))
            for m in self.body
            if isinstance(m, Nb201MixedCell)
            for label in m.edges
        ]

    @torch.no_grad()
    def extract(self, arch: Mapping[str, Value]) -> Nb201Net:
        import copy

        arch = self.nb201.canonical(arch)
        body = [
            m.extract(arch) if isinstance(m, Nb201MixedCell) else copy.deepcopy(m)
            for m in self.body
        ]
        return Nb201Net(copy.deepcopy(self.ends), body).train(self.training)
